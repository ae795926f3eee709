package buffer

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 30 * time.Millisecond, 3 * time.Second, 25 * time.Second, 10 * time.Minute} {
		h.Observe(d)
	}
	if got := h.Count(); got != 6 {
		t.Errorf("Count = %d, want 6", got)
	}
	if got, want := h.Sum(), 10*time.Minute+28*time.Second+36*time.Millisecond; got != want {
		t.Errorf("Sum = %v, want %v", got, want)
	}
	b := h.Buckets()
	for le, want := range map[float64]uint64{0.005: 2, 0.01: 2, 0.05: 3, 2.5: 3, 5: 4, 20: 4, 60: 5, 120: 5} {
		if b[le] != want {
			t.Errorf("bucket le=%v: %d, want %d", le, b[le], want)
		}
	}
	if len(b) != len(durationBounds) {
		t.Errorf("%d buckets, want %d", len(b), len(durationBounds))
	}
	if got := h.Above(20 * time.Second); got != 2 {
		t.Errorf("Above(20s) = %d, want 2", got)
	}
}
