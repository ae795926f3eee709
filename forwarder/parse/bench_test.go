package parse

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchLines are realistic lines of about 100 bytes per type; "NNN" is
// replaced by a counter so that times differ, as they do in a file.
var benchLines = []struct {
	typ  string
	edit func(*Config)
	line string
}{
	{"none", nil, `2024-05-01 12:34:56.NNN INFO  [http-nio-8080-exec-7] c.e.api.UserController - GET /api/v1/users 200 12ms`},
	{"json", func(c *Config) { c.TimeFormat = "%Y-%m-%dT%H:%M:%S.%L%z" },
		`{"time":"2024-05-01T12:34:56.NNNZ","level":"info","msg":"GET /api/v1/users","status":200,"dur_ms":12.5}`},
	{"cri", nil, `2024-05-01T12:34:56.789012NNNZ stdout F GET /api/v1/users 200 12ms user=1234 request_id=9f8e7d6c5b4a`},
	{"docker", nil, `{"log":"GET /api/v1/users 200 12ms user=1234\n","stream":"stdout","time":"2024-05-01T12:34:56.789012NNNZ"}`},
	{"regexp", func(c *Config) {
		c.Expression = `/^(?<time>[^ ]+ [^ ]+) (?<level>[A-Z]+) +\[(?<thread>[^\]]*)\] (?<logger>[^ ]+) - (?<message>.*)$/`
		c.TimeFormat = "%Y-%m-%d %H:%M:%S.%L"
	}, `2024-05-01 12:34:56.NNN INFO  [http-nio-8080-exec-7] c.e.api.UserController - GET /api/v1/users 200 12ms`},
	{"ltsv", nil, "time:2024-05-01T12:34:56.NNNZ\thost:10.0.0.1\tmethod:GET\turi:/api/v1/users\tstatus:200\tsize:1234\tua:curl/8.0"},
	{"csv", func(c *Config) { c.Keys = []string{"host", "user", "method", "path", "status", "size", "agent"} },
		`10.0.0.1,alice,GET,/api/v1/users?page=2,200,1234,"Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0"`},
	{"apache2", nil, `10.0.0.1 - alice [01/May/2024:12:34:56 +0000] "GET /api/v1/users HTTP/1.1" 200 1234 "-" "curl/8.NNN"`},
	{"nginx", nil, `10.0.0.1 10.0.0.2 - [01/May/2024:12:34:56 +0000] "GET /api/v1/users HTTP/1.1" 200 1234 "-" "curl/8.0"`},
	{"syslog", nil, `May  1 12:34:56 web-01 nginx[1234]: 10.0.0.1 GET /api/v1/users 200 1234 "curl/8.0" 0.012s`},
}

func BenchmarkLine(b *testing.B) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, bl := range benchLines {
		b.Run(bl.typ, func(b *testing.B) {
			p := newParser(b, bl.typ, bl.edit)
			lines := make([][]byte, 1000)
			var out []byte
			for i := range lines {
				lines[i] = []byte(strings.Replace(bl.line, "NNN", fmt.Sprintf("%03d", i), 1))
				out = p.Line(out[:0], lines[i], now)
			}
			if p.Stats().Unmatched != 0 {
				b.Fatalf("the benchmark line does not parse: %v", decode(b, out))
			}
			b.SetBytes(int64(len(lines[0])))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out = p.Line(out[:0], lines[i%len(lines)], now)
			}
		})
	}
}
