package buffer

import (
	"context"
	"testing"
	"time"
)

// With Options.Errors (Fluentd's <label @ERROR>), the records the output
// rejects go there, before the secondary and failed/; when it fails, they
// go on to the secondary as without it.
func TestRejectedToErrors(t *testing.T) {
	for _, errorsFail := range []bool{false, true} {
		cfg := testConfig(t, "file")
		cfg.FlushMode = "lazy"
		errs := &recorder{}
		if errorsFail {
			errs.fail = func(int, *Chunk) error { return errDown }
		}
		sec := &recorder{}
		b, _ := open(t, cfg, &rejecter{}, Options{Errors: errs, Secondary: sec})
		ctx := context.Background()
		bad := entry(nil, t0.Add(time.Second), "msg", "bad one")
		if err := b.Append(ctx, "app.a", append(entries(2, t0, 5), bad...)); err != nil {
			t.Fatal(err)
		}
		if err := b.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		b.Close()
		want, other := errs, sec
		if errorsFail {
			want, other = sec, errs
		}
		if n := want.records(); n != 1 {
			t.Errorf("errors failing %v: %d records where the rejected one should be", errorsFail, n)
		}
		if n := other.records(); n != 0 {
			t.Errorf("errors failing %v: %d records in the other place", errorsFail, n)
		}
		if got := want.got(); len(got) == 1 && (len(got[0].frames) != 1 || got[0].frames[0].tag != "app.a") {
			t.Errorf("rejected chunk %+v", got[0])
		}
		if st := b.Stats(); st.Rejected != 1 || st.Failed != 0 {
			t.Errorf("stats %+v", st)
		}
	}
}
