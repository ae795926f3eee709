package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
)

// bargeBin is the barge binary the end-to-end tests run, built once.
var bargeBin string

func TestMain(m *testing.M) {
	bin, err := bargetest.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bargeBin = bin
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(filepath.Dir(bin))
	os.Exit(code)
}

// startBarge runs barge on config in dir (see bargetest.Start).
func startBarge(t *testing.T, dir, config string) *bargetest.Proc {
	t.Helper()
	return bargetest.Start(t, bargeBin, dir, config, nil)
}
