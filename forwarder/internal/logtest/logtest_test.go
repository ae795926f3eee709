package logtest

import (
	"sync"
	"testing"
)

func TestBufferCountsLines(t *testing.T) {
	var l Buffer
	log := l.Logger()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { log.Info("sent", "n", i) })
	}
	wg.Wait()
	log.Debug("detail", "path", "/a")
	if n := l.Count("msg=sent"); n != 8 {
		t.Errorf("Count(msg=sent) = %d, want 8", n)
	}
	if n := l.Count("msg=detail", "path=/a"); n != 1 {
		t.Errorf("Count(detail, path) = %d, want 1", n)
	}
	if n := l.Count("msg=missing"); n != 0 {
		t.Errorf("Count(missing) = %d, want 0", n)
	}
	l.Has(t, "level=DEBUG", "msg=detail")
}
