package files

import (
	"bytes"
	"io"
)

// docStream reads a document for the streaming passes: at most
// max_document_size bytes plus one (to tell a larger document), a leading
// BOM dropped. It counts the bytes and line breaks consumed, and can
// capture the bytes of a value while they are consumed.
type docStream struct {
	lr       io.LimitedReader
	buf      []byte
	pos, end int
	eof      bool
	off      int64 // bytes consumed, after the BOM
	lines    int64 // line breaks consumed

	capOn   bool
	capFrom int    // where the capture resumes in buf
	capMax  int    // a capture longer than this is dropped (0: no limit)
	capOver bool   // the capture went over capMax
	capBuf  []byte // the bytes captured before buf[capFrom:]
}

func newDocStream(in io.Reader, maxDoc int64, buf []byte) (*docStream, error) {
	d := &docStream{lr: io.LimitedReader{R: in, N: maxDoc + 1}, buf: buf}
	for d.end < len(bom) && !d.eof {
		if _, err := d.more(); err != nil {
			return nil, err
		}
	}
	if bytes.HasPrefix(d.buf[:d.end], bom) {
		d.pos = len(bom)
	}
	return d, nil
}

// more reads after the unread bytes; it returns false at the end of the
// input, and the read error if it is not io.EOF.
func (d *docStream) more() (bool, error) {
	if d.capOn {
		d.keep(d.buf[d.capFrom:d.pos])
		d.capFrom = 0
	}
	d.end = copy(d.buf, d.buf[d.pos:d.end])
	d.pos = 0
	for !d.eof && d.end < len(d.buf) {
		n, err := d.lr.Read(d.buf[d.end:])
		d.end += n
		if err == io.EOF {
			d.eof = true
		} else if err != nil {
			return false, err
		}
		if n > 0 {
			break
		}
	}
	return d.end > 0, nil
}

// skip consumes n bytes without looking at them; false if the input
// ends first.
func (d *docStream) skip(n int64) (bool, error) {
	for n > 0 {
		if d.pos == d.end {
			if ok, err := d.more(); !ok || err != nil {
				return false, err
			}
		}
		k := int(min(n, int64(d.end-d.pos)))
		d.pos += k
		d.off += int64(k)
		n -= int64(k)
	}
	return true, nil
}

// capture starts capturing at the byte last consumed.
func (d *docStream) capture(limit int) {
	d.capOn, d.capFrom, d.capMax, d.capOver = true, d.pos-1, limit, false
	d.capBuf = d.capBuf[:0]
}

// captured ends the capture after the byte last consumed.
func (d *docStream) captured() []byte {
	d.keep(d.buf[d.capFrom:d.pos])
	d.capOn = false
	return d.capBuf
}

func (d *docStream) keep(b []byte) {
	if d.capOver || d.capMax > 0 && len(d.capBuf)+len(b) > d.capMax {
		d.capOver = true
		return
	}
	d.capBuf = append(d.capBuf, b...)
}
