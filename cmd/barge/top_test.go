package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
)

// TestTopInTmux drives `barge top` in a real terminal (a detached tmux
// session of 160x40) against a running barge: its screen shows the
// forward input and the file output by their @id, the input's records/s
// while records flow, the output's buffer bar; q quits it.
func TestTopInTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatalf("tmux is not installed; TestTopInTmux drives barge top in it: install it (apt-get install tmux; .ci/run does): %v", err)
	}
	dir := t.TempDir()
	port := freePort(t)
	p := startBarge(t, dir, metricsConfig(port, "./out/", ""))
	session := fmt.Sprintf("barge-top-%d", port)
	sock := "-L" + session // a server of its own
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(tmux, append([]string{sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cmd := fmt.Sprintf("%s top --addr 127.0.0.1:%d --interval 200ms; echo barge-top-exit=$?; sleep 60", bargeBin, port)
	run("new-session", "-d", "-s", session, "-x", "160", "-y", "40", cmd)
	t.Cleanup(func() { exec.Command(tmux, sock, "kill-server").Run() })

	screen := func() string { return run("capture-pane", "-p", "-t", session) }
	waitScreen := func(what string, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			s := screen()
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("the screen never showed %s:\n%s", what, s)
			}
			<-tick.C
		}
	}
	waitScreen("the input and the output", func(s string) bool {
		return strings.Contains(s, "in_fw") && strings.Contains(s, "out_files") && strings.Contains(s, "barge top")
	})
	// Records flowing: the input's records/s is above 0 on some screen.
	inputRate := regexp.MustCompile(`in_fw\s+forward\s+(\d+)`)
	var s string
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i += 200 {
		bargetest.SendAcked(t, p.Addr, "app.top", i, i+200)
		s = screen()
		if m := inputRate.FindStringSubmatch(s); m != nil {
			if n, _ := strconv.Atoi(m[1]); n > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("records/s of in_fw never above 0:\n%s", s)
		}
	}
	if !regexp.MustCompile(`out_files\s+file\s+\d+\s+\[[#.]{14}\]\s+\d+%`).MatchString(s) {
		t.Errorf("no buffer bar for out_files:\n%s", s)
	}
	run("send-keys", "-t", session, "q")
	waitScreen("barge top's exit", func(s string) bool { return strings.Contains(s, "barge-top-exit=0") })
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
