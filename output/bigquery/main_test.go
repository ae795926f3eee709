package bigquery

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Started by the init of go.opencensus.io, which the storage and
		// BigQuery clients import; it lives as long as the process and
		// has no way to stop it.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}
