package buffer

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// syncer is the group commit for fsync true. An appender that wrote its
// frames joins the batch being collected and waits for it. A single leader
// goroutine (started when the first batch forms, ended when no batch is
// waiting) takes the batch, fsyncs each file in it once, and wakes its
// members; appenders that wrote meanwhile form the next batch. So N
// concurrent appenders cost about two fsyncs per file, not N.
type syncer struct {
	mu      sync.Mutex
	cur     *batch // collecting; nil when none
	leading bool
	wg      sync.WaitGroup
	count   atomic.Int64 // fsync calls
}

type batch struct {
	stores []store
	done   chan struct{}
	err    error
}

// sync waits until every store in stores is fsynced after this call began.
func (s *syncer) sync(ctx context.Context, stores []store) error {
	s.mu.Lock()
	if s.cur == nil {
		s.cur = &batch{done: make(chan struct{})}
	}
	b := s.cur
	for _, st := range stores {
		if !containsStore(b.stores, st) {
			b.stores = append(b.stores, st)
		}
	}
	if !s.leading {
		s.leading = true
		s.wg.Add(1)
		go s.lead()
	}
	s.mu.Unlock()
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *syncer) lead() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		b := s.cur
		s.cur = nil
		if b == nil {
			s.leading = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		var errs []error
		for _, st := range b.stores {
			s.count.Add(1)
			errs = append(errs, st.sync())
		}
		b.err = errors.Join(errs...)
		close(b.done)
	}
}

// wait waits for the leader to end (Close).
func (s *syncer) wait() { s.wg.Wait() }

func containsStore(list []store, st store) bool {
	for _, v := range list {
		if v == st {
			return true
		}
	}
	return false
}
