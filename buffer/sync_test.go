package buffer

import (
	"context"
	"sync"
	"testing"
)

func TestGroupCommit(t *testing.T) {
	cfg := testConfig(t, "file")
	cfg.Fsync = true
	cfg.FlushMode = "lazy"
	cfg.ChunkKeys = []string{"tag"}
	out := &recorder{}
	b, _ := open(t, cfg, out, Options{})
	const appenders, each = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, appenders*each)
	for i := range appenders {
		wg.Go(func() {
			tag := []string{"a", "b"}[i%2]
			for range each {
				if err := b.Append(context.Background(), tag, entries(3, t0, 50)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := b.Stats()
	if st.Appends != appenders*each || st.Fsyncs == 0 || st.Fsyncs >= st.Appends {
		t.Errorf("%d appends cost %d fsyncs", st.Appends, st.Fsyncs)
	}
	t.Logf("%d appends, %d fsyncs", st.Appends, st.Fsyncs)
	if err := b.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if out.records() != appenders*each*3 {
		t.Errorf("flushed %d records", out.records())
	}
}

func TestNoFsyncWithoutOption(t *testing.T) {
	cfg := testConfig(t, "file")
	b, _ := open(t, cfg, &recorder{}, Options{})
	defer b.Close()
	if err := b.Append(context.Background(), "t", entries(1, t0, 5)); err != nil {
		t.Fatal(err)
	}
	if n := b.Stats().Fsyncs; n != 0 {
		t.Errorf("%d fsyncs with fsync false", n)
	}
}
