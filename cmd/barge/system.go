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

	// The HTTP listener of /metrics, /healthz and /readyz (metrics.go):
	// off while http_port is 0.
	HTTPBind string `conf:"http_bind"`
	HTTPPort int    `conf:"http_port"`
	// StallTimeout: an output with chunks queued and no successful flush
	// for this long is reported stalled (/readyz, barge_output_stalled).
	StallTimeout time.Duration `conf:"stall_timeout"`

	// MemoryLimit is the Go runtime's soft memory limit (memory.go):
	// -1 (not given) takes 80% of the cgroup's limit, 0 sets none.
	MemoryLimit int64 `conf:"memory_limit,size"`
	// FluentdCompatibleMetrics: /metrics also reports each output under
	// fluent-plugin-prometheus's prometheus_output_monitor names.
	FluentdCompatibleMetrics bool `conf:"fluentd_compatible_metrics"`
	// EnablePprof: the listener also serves Go's profiles, /debug/pprof/.
	EnablePprof bool `conf:"enable_pprof"`
}

func defaultSystemConfig() systemConfig {
	return systemConfig{LogLevel: "info", ShutdownTimeout: 30 * time.Second, Workers: 1, HTTPBind: "127.0.0.1", StallTimeout: 5 * time.Minute, MemoryLimit: -1}
}

// Validate checks the <system> directive.
func (c *systemConfig) Validate() error {
	if c.Workers < 1 {
		return fmt.Errorf("'workers' must be at least 1, got %d", c.Workers)
	}
	if c.HTTPPort < 0 || c.HTTPPort > 65535 {
		return fmt.Errorf("'http_port' must be 0 (off) to 65535, got %d", c.HTTPPort)
	}
	if c.StallTimeout <= 0 {
		return fmt.Errorf("'stall_timeout' must be positive, got %s", c.StallTimeout)
	}
	if c.MemoryLimit < -1 {
		return fmt.Errorf("'memory_limit' must be a size, or 0 for none, got %d", c.MemoryLimit)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("'shutdown_timeout' must be positive, got %s", c.ShutdownTimeout)
	}
	return nil
}
