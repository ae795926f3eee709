package main

import (
	"context"
	"time"

	"github.com/barge-dev/barge/cmd/internal/procstat"
)

// rssSampler samples a process's resident set size.
type rssSampler struct {
	pid  int
	peak int64 // bytes, the largest VmRSS seen
	hwm  int64 // bytes, the kernel's VmHWM at the last sample
	err  error
}

// run samples every interval until ctx ends.
func (s *rssSampler) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rss, hwm, err := procstat.Memory(s.pid)
		if err != nil {
			if s.peak == 0 {
				s.err = err
			}
		} else {
			s.peak = max(s.peak, rss)
			s.hwm = hwm
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
