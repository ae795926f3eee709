package bigquery

import (
	"fmt"
	"strings"
)

// The commands the loader's messages tell the user to run.

// replayCommand is the command that loads partition id again.
func (l *Loader) replayCommand(id string) string {
	path := l.configPath
	if path == "" {
		path = "FILE"
	}
	return fmt.Sprintf("barge replay -c %s --loader %s --partition %s", shellQuote(path), shellQuote(l.cfg.Name), id)
}

// rebuildCommand is the command that rebuilds this loader's ledgers.
func (l *Loader) rebuildCommand() string {
	path := l.configPath
	if path == "" {
		path = "FILE"
	}
	return fmt.Sprintf("barge ledger rebuild -c %s --loader %s", shellQuote(path), shellQuote(l.cfg.Name))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
