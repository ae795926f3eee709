package conf

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is one problem in a config file. Error() is "FILE:LINE: Msg", or
// "FILE: Msg" when Line is 0 (the root section), or just Msg without a file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.File == "":
		return e.Msg
	case e.Line <= 0:
		return e.File + ": " + e.Msg
	default:
		return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
	}
}

// Errors is every problem found, in the order found. Each element is an
// *Error unless a caller appended something else.
type Errors []error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.Is and errors.As look at each problem.
func (es Errors) Unwrap() []error { return es }

// Errorf returns an *Error placed at the given section or parameter (nil:
// no place). The message is used as given: callers include the directive
// label themselves when useful.
func Errorf(at Positioner, format string, args ...any) *Error {
	e := &Error{Msg: fmt.Sprintf(format, args...)}
	if at != nil {
		e.File, e.Line = at.Pos()
	}
	return e
}

// ParamErrorf is Errorf for a parameter.
func ParamErrorf(p *Param, format string, args ...any) *Error {
	return Errorf(p, format, args...)
}

// errAt is Errorf for a file and line.
func errAt(file string, line int, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}
