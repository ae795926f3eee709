package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// rssSampler samples a process's resident set size.
type rssSampler struct {
	pid  int
	peak int64 // bytes, the largest VmRSS seen
	hwm  int64 // bytes, the kernel's VmHWM at the last sample
	err  error
}

// readRSS returns VmRSS and VmHWM of pid, in bytes.
func readRSS(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	field := func(name string) int64 {
		i := bytes.Index(b, []byte(name))
		if i < 0 {
			return 0
		}
		line := b[i+len(name):]
		if j := bytes.IndexByte(line, '\n'); j >= 0 {
			line = line[:j]
		}
		f := bytes.Fields(line) // "12345 kB"
		if len(f) == 0 {
			return 0
		}
		n, _ := strconv.ParseInt(string(f[0]), 10, 64)
		return n * 1024
	}
	return field("VmRSS:"), field("VmHWM:"), nil
}

// run samples every interval until ctx ends.
func (s *rssSampler) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rss, hwm, err := readRSS(s.pid)
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
