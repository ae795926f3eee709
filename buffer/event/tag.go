package event

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrTag is wrapped by the error of a tag that inputs refuse.
var ErrTag = errors.New("event: invalid tag")

// CheckTag checks a tag that an input received: at most MaxTagLen bytes of
// valid UTF-8 without control characters (below 0x20, and 0x7f). The empty
// tag passes: whether it is accepted is the input's decision.
func CheckTag(tag string) error {
	if len(tag) > MaxTagLen {
		return fmt.Errorf("%w: %d bytes, over %d", ErrTag, len(tag), MaxTagLen)
	}
	ascii := true
	for i := 0; i < len(tag); i++ {
		switch c := tag[i]; {
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%w: control character %#02x at byte %d", ErrTag, c, i)
		case c >= 0x80:
			ascii = false
		}
	}
	if !ascii && !utf8.ValidString(tag) {
		return fmt.Errorf("%w: not valid UTF-8", ErrTag)
	}
	return nil
}
