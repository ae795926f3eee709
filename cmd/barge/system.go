package main

import (
	"fmt"
	"time"
)

// systemConfig is the <system> directive. Parameters that only make sense
// for Fluentd's Ruby process model are accepted where a Fluentd config
// commonly carries them, and ignored; see README's configuration reference.
type systemConfig struct {
	LogLevel        string        `conf:"log_level" enum:"trace,debug,info,warn,error,fatal"`
	ShutdownTimeout time.Duration `conf:"shutdown_timeout"`
	RootDir         string        `conf:"root_dir"`
	Workers         int           `conf:"workers"`
	ProcessName     string        `conf:"process_name"`

	SuppressRepeatedStacktrace bool          `conf:"suppress_repeated_stacktrace"`
	IgnoreRepeatedLogInterval  time.Duration `conf:"ignore_repeated_log_interval"`
	EmitErrorLogInterval       time.Duration `conf:"emit_error_log_interval"`
}

func defaultSystemConfig() systemConfig {
	return systemConfig{LogLevel: "info", ShutdownTimeout: 30 * time.Second, Workers: 1}
}

// Validate checks the <system> directive.
func (c *systemConfig) Validate() error {
	if c.Workers != 1 {
		return fmt.Errorf("'workers' must be 1: barge runs one process per pipeline, got %d", c.Workers)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("'shutdown_timeout' must be positive, got %s", c.ShutdownTimeout)
	}
	return nil
}
