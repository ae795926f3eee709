package bqschema_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/bigquery/bqschema"
	"github.com/barge-dev/barge/output/format"
	"github.com/tinylib/msgp/msgp"
)

// TestKeyStyleNames checks that the names Name makes are names CheckName
// accepts: rewriting and checking agree on the rules.
func TestKeyStyleNames(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("aZ_0.-#é日 \x00_tTaAbBlLeE_PARTITION_ROOT")
	for range 5000 {
		key := make([]rune, r.IntN(20))
		for i := range key {
			key[i] = alphabet[r.IntN(len(alphabet))]
		}
		name := bqschema.Name(string(key))
		if err := bqschema.CheckName(name); err != nil {
			t.Fatalf("BigQueryName(%q) = %q: %v", string(key), name, err)
		}
	}
}

type oneFrame struct {
	entries []byte
	done    bool
}

func (f *oneFrame) Next() (string, []byte, error) {
	if f.done {
		return "", nil, io.EOF
	}
	f.done = true
	return "app", f.entries, nil
}

// TestInferKeyStyleOutput infers a schema from what an output with
// key_style bigquery writes from records whose keys are not column names.
func TestInferKeyStyleOutput(t *testing.T) {
	// rec builds a map with its keys in order; AppendIntf writes Raw as it is.
	var rec func(kv ...any) msgp.Raw
	rec = func(kv ...any) msgp.Raw {
		b := msgp.AppendMapHeader(nil, uint32(len(kv)/2))
		for _, v := range kv {
			var err error
			if b, err = msgp.AppendIntf(b, v); err != nil {
				t.Fatal(err)
			}
		}
		return msgp.Raw(b)
	}
	var entries []byte
	entries = event.AppendEntry(entries, event.AppendEventTime(nil, 1795341845, 5), rec("@timestamp", "x", "a.b", 1, "a-b", 2.5, "k8s", rec("app.kubernetes.io/name", "web", "App_Kubernetes_io_name", "w"), "time", "dropped"))
	entries = event.AppendEntry(entries, event.AppendEventTime(nil, 1795341846, 0), rec("1st", true, "list", []any{rec("x-y", 1)}))
	fc := format.DefaultConfig()
	fc.KeyStyle = format.KeyStyleBigQuery
	enc, err := format.NewEncoder(format.EncoderConfig{
		Format:   fc,
		Inject:   format.InjectConfig{TimeKey: "time", TimeType: "string", TimeFormat: "%Y-%m-%dT%H:%M:%S.%6N%:z", UTC: true},
		Compress: "none",
	}, format.EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := enc.Encode(&out, &oneFrame{entries: entries}); err != nil {
		t.Fatal(err)
	}
	var in bqschema.Inferrer
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if err := in.AddJSONLine(sc.Bytes()); err != nil {
			t.Fatalf("%s: %v", sc.Bytes(), err)
		}
	}
	s := in.Schema()
	if _, err := bqschema.Parse(s.JSON()); err != nil {
		t.Fatal(err)
	}
	want := `[{"name":"time","type":"TIMESTAMP","mode":"NULLABLE"},{"name":"_timestamp","type":"STRING","mode":"NULLABLE"},{"name":"a_b_2","type":"INTEGER","mode":"NULLABLE"},{"name":"a_b","type":"FLOAT","mode":"NULLABLE"},{"name":"k8s","type":"RECORD","mode":"NULLABLE","fields":[{"name":"app_kubernetes_io_name_2","type":"STRING","mode":"NULLABLE"},{"name":"App_Kubernetes_io_name","type":"STRING","mode":"NULLABLE"}]},{"name":"_1st","type":"BOOLEAN","mode":"NULLABLE"},{"name":"list","type":"RECORD","mode":"REPEATED","fields":[{"name":"x_y","type":"INTEGER","mode":"NULLABLE"}]}]`
	var got bytes.Buffer
	if err := json.Compact(&got, s.JSON()); err != nil || got.String() != want {
		t.Errorf("got  %s (%v)\nwant %s", got.String(), err, want)
	}
}
