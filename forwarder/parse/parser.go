package parse

import (
	"time"
)

// Options are what the tailer adds to the <parse> section.
type Options struct {
	// UnmatchedKey is the record key holding a line that does not parse:
	// "message" by default; the tailer passes "unmatched_line" when
	// Fluentd's emit_unmatched_lines is true.
	UnmatchedKey string
	// Location is the local zone, in which times without a zone are read
	// unless the section says utc, localtime false or timezone. nil means
	// time.Local.
	Location *time.Location
}

// Parser turns the lines of one file into entries. It is not safe for
// concurrent use: the tailer has one per file.
type Parser interface {
	// Line parses one line (without its trailing "\n"; a trailing "\r" is
	// the tailer's to strip) and appends the entries it completes to dst:
	// none while a multiline or partial (cri "P", docker lines split at 16
	// KiB) record is still open, usually one, two when a line closes a held
	// record and completes one of its own. now is the time of records that
	// carry none. A line that does not parse is never dropped: it becomes
	// {UnmatchedKey: line} with time now, and Stats().Unmatched counts it.
	// Line keeps no reference to line or dst.
	Line(dst, line []byte, now time.Time) []byte
	// Flush appends the held records, if any (multiline_flush_interval
	// elapsed, or the file rotated or ended for good). Held() is 0 after.
	Flush(dst []byte, now time.Time) []byte
	// Held is how many of the most recent lines given to Line are at or
	// after the first line of a record not yet appended. The tailer commits
	// a file position only before that line.
	Held() int
	// Stats returns the parser's counters.
	Stats() Stats
}

// New returns a parser for cfg. It does no I/O.
func New(cfg Config, opts Options) (Parser, error) {
	k, err := compile(&cfg)
	if err != nil {
		return nil, err
	}
	b := newBase(k, opts)
	switch cfg.Type {
	case "multiline":
		return newMultiline(b), nil
	case "cri":
		return newCRI(b, opts), nil
	case "docker":
		return newDocker(b), nil
	}
	return &single{p: newLineParser(b)}, nil
}

// lineParser is a parser of one line into one record (or, for a JSON
// array, several).
type lineParser interface {
	// parse appends the entries of line to dst; ok is false, with dst as
	// it was, when the line does not parse.
	parse(dst, line []byte, now time.Time) ([]byte, bool)
	base() *base
}

// newLineParser returns the lineParser of a type that holds no lines.
func newLineParser(b base) lineParser {
	switch b.k.cfg.Type {
	case "none":
		return newNone(b)
	case "json":
		return &jsonParser{b: b}
	case "regexp", "nginx":
		return newRegexp(b, b.k.re)
	case "ltsv":
		return &ltsvParser{b: b}
	case "csv":
		return &csvParser{b: b}
	case "tsv":
		return &tsvParser{b: b}
	case "apache2":
		return newApache2(b)
	case "syslog":
		return &syslogParser{b: b}
	}
	panic("parse: no line parser for @type " + b.k.cfg.Type)
}

// single is the Parser of the types that hold no lines.
type single struct{ p lineParser }

func (s *single) Line(dst, line []byte, now time.Time) []byte {
	if out, ok := s.p.parse(dst, line, now); ok {
		return out
	}
	return s.p.base().appendUnmatched(dst, line, now)
}

func (s *single) Flush(dst []byte, _ time.Time) []byte { return dst }
func (s *single) Held() int                            { return 0 }
func (s *single) Stats() Stats                         { return s.p.base().stats }
