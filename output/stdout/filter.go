package stdout

import "io"

// Filter is Fluentd's filter_stdout (<filter> @type stdout): it prints
// each event as @type stdout does, and passes every event on unchanged.
// Lines of concurrent calls never interleave.
type Filter struct{ o *Output }

// NewFilter validates cfg (the output's: <format>, stdout by default, and
// <inject>) and returns a Filter.
func NewFilter(cfg Config, opts Options) (*Filter, error) {
	o, err := New(cfg, opts)
	if err != nil {
		return nil, err
	}
	return &Filter{o: o}, nil
}

// Filter prints entries and appends them to dst as they are. A record the
// format cannot write is not printed, and is passed on all the same (it
// is logged, as the output logs it).
func (f *Filter) Filter(tag string, entries []byte, dst []byte) ([]byte, error) {
	if err := f.o.encode(&oneFrame{tag: tag, entries: entries}); err != nil {
		f.o.log.Warn("filter stdout: records not printed", "tag", tag, "err", err)
	}
	return append(dst, entries...), nil
}

// oneFrame is a format.Frames of one frame.
type oneFrame struct {
	tag     string
	entries []byte
	done    bool
}

func (o *oneFrame) Next() (string, []byte, error) {
	if o.done {
		return "", nil, io.EOF
	}
	o.done = true
	return o.tag, o.entries, nil
}
