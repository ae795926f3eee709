package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The Go runtime keeps the heap it grew for a burst (a client sending the
// largest messages it may, or an attack) and gives it back to the OS only
// slowly, so after the burst barge would sit at its peak RSS for minutes.
// returnMemory checks every interval how much free heap the runtime keeps
// without having released it, and above threshold collects and releases it
// (debug.FreeOSMemory). In steady state the free heap stays under the
// threshold and it costs one metrics read per interval.
const (
	memoryCheckInterval = 5 * time.Second
	memoryFreeThreshold = 32 << 20
)

var heapFree = []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}

// returnMemory runs until ctx ends.
func returnMemory(ctx context.Context, interval time.Duration, threshold uint64) {
	t := time.NewTicker(interval)
	defer t.Stop()
	sample := make([]metrics.Sample, len(heapFree))
	copy(sample, heapFree)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if v := sample[0].Value; v.Kind() == metrics.KindUint64 && v.Uint64() > threshold {
			debug.FreeOSMemory()
		}
	}
}

// memoryLimitShare is the part of a cgroup's memory limit given to the Go
// runtime as its soft limit when <system> memory_limit is not set: the
// rest is for what the runtime does not count (the binary's pages, stacks
// of threads in syscalls, the kernel's page cache charged to the cgroup).
const memoryLimitShare = 0.8

// cgroupMemoryFiles are where the memory limit of the cgroup barge runs in
// is read: cgroup v2, then v1, under root (/sys/fs/cgroup).
var cgroupMemoryFiles = []string{"memory.max", "memory/memory.limit_in_bytes"}

// cgroupMemoryLimit returns the memory limit of the cgroup under root, 0
// when there is none (v2 "max", v1's page-rounded maximum) or none can be
// read.
func cgroupMemoryLimit(root string) int64 {
	for _, name := range cgroupMemoryFiles {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0
		}
		return n
	}
	return 0
}

// memoryLimit decides the Go runtime's soft memory limit: <system>
// memory_limit when set (0: none), else GOMEMLIMIT when the environment
// sets it (the runtime applied it already: 0 here), else 80% of the
// cgroup's limit, else none. It returns the limit and where it came from.
func memoryLimit(configured int64, cgroupRoot string) (int64, string) {
	switch {
	case configured >= 0:
		return configured, "<system> memory_limit"
	case os.Getenv("GOMEMLIMIT") != "":
		return 0, "GOMEMLIMIT"
	}
	if cg := cgroupMemoryLimit(cgroupRoot); cg > 0 {
		return int64(float64(cg) * memoryLimitShare), "80% of the cgroup's memory limit"
	}
	return 0, ""
}

// dropStartupPages asks the kernel to drop the resident pages of barge's
// own read-only mappings (code, read-only data and the function tables):
// the initialisation of some 900 packages touched most of them once, and
// they would otherwise stay counted in barge's RSS for its whole life (34
// MiB of an idle barge's 42). The pages are clean copies of the binary, so
// the ones barge goes on using are read back from the page cache at the
// next touch (a minor fault), and the rest leave its RSS. Writable
// mappings are never touched. It reports the bytes of mappings advised.
func dropStartupPages() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	var advised int64
	for _, line := range strings.Split(string(maps), "\n") {
		// 00400000-01b51000 r-xp 00000000 fe:00 10608865   /path/to/barge
		f := strings.Fields(line)
		if len(f) < 6 || f[5] != exe || (f[1] != "r-xp" && f[1] != "r--p") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), madvDontNeed); errno != 0 {
			return advised, fmt.Errorf("madvise %s: %w", f[0], errno)
		}
		advised += int64(end - start)
	}
	return advised, nil
}

// madvDontNeed is MADV_DONTNEED.
const madvDontNeed = 4
