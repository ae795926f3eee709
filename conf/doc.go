// Package conf reads Fluentd's configuration syntax (v1) and decodes its
// sections into the typed Config structs of barge's components. It imports
// nothing of barge; components never import it.
//
// # Syntax
//
// A file is a list of parameters and directives, as Fluentd's v1 parser:
//
//	# a comment: '#' at the start of a line or after a blank
//	<match app.** {a,b}.*>      # <NAME ARG>: ARG is everything up to '>'
//	  @type file
//	  path /var/log/out         # bare value: the rest of the line, without
//	                            # trailing blanks and a " #" comment
//	  flag                      # a key alone has the value "" (bool: true)
//	  s1 "tab\there \"q\" #{ENV['HOME']}"
//	  s2 'literal \n, only \' and \\ are escapes'
//	  list ["a", "b",           # JSON over several lines, '#' comments
//	        "c]"]               # outside strings; stored compacted
//	  <buffer tag, time>        # sections nest to any depth
//	    timekey 1h
//	  </buffer>
//	</match>
//	@include conf.d/*.conf      # glob, relative to this file, sorted
//
// Double-quoted strings take the escapes \" \' \\ \r \n \t \f \b \0 and any
// other symbol after a backslash stands for itself (\# \$); a backslash
// before a letter or digit is an error; a backslash at the end of a line
// continues the string on the next line without the newline.
// Single-quoted strings and bare values are literal. A value starting
// with '[' or '{' is JSON and may span lines.
//
// # Embedded Ruby
//
// "#{...}" inside a double-quoted string is evaluated by a small fixed
// grammar, never by a Ruby interpreter. It takes terms joined by "||"
// (blanks allowed around each):
//
//	ENV['NAME'], ENV["NAME"]  the variable; nil when unset
//	'text', "text"            a Ruby string ('' takes \' \\; "" takes
//	                          \" \\ \' \# \n \t \r \0 \s \e \a \b \f \v, no #{})
//	123                       a decimal integer, as its digits
//	Socket.gethostname        the machine's host name (os.Hostname)
//	hostname                  the same (Fluentd defines it so)
//	worker_id                 "0": barge runs one process
//	use_default               the parameter takes its default
//	use_nil                   the parameter is nil: not given
//
// As in Ruby, a || b is a unless a is nil: ENV['X'] || 'd' gives 'd' only
// when X is unset, not when X is set to "". An expression that ends nil
// (every variable unset) gives "". As in Fluentd, use_default or use_nil
// anywhere in a string makes the whole value the default or nil (use_nil
// wins): "#{ENV['PORT'] || use_default}" is the default port when PORT is
// unset. Anything else ("#{ENV.fetch('X')}", "#{`cmd`}", method calls) is
// an error that quotes the code; use_default and use_nil in a key or a
// section argument are errors. Each Param records its value as written
// (Raw), the unset variables looked up (Unset), and UseDefault/UseNil.
//
// @include PATH (also the deprecated "include PATH" at the top level)
// inserts the parameters and sections of the matching files at its
// position. A PATH without glob characters must exist; include loops are
// errors. Sections must close in the file that opens them.
//
// # Decoding
//
// Decode(sec, &cfg) fills a struct by its tags:
//
//	conf:"key"             a parameter: string, bool, int, int64, float64,
//	                       time.Duration, []string, map[string]string
//	conf:"key,size"        an int/int64 byte size: "8m", "1g", "512k", "1024"
//	conf:"key,size-1"      a size as above, or -1 (Fluentd's "unlimited" of some parameters)
//	conf:",arg"            the section argument: string as written, or
//	                       []string split on commas and blanks ("tag,time")
//	conf:",rest"           map[string]string of this section's otherwise
//	                       unknown parameters (instead of rejecting them)
//	conf:"<name>"          a nested section: Struct, *Struct (nil when
//	                       absent) or []Struct (repeated, in order)
//	conf:"<name>,rest"     map[string]string of a nested section's params
//	conf:"-"               ignored; untagged fields are ignored too, and
//	                       untagged embedded structs are flattened
//	enum:"a,b,c"           allowed values of a string or []string
//	required:"true"        the parameter, section or argument must be given
//	default:"v"            value for a field of a *Struct or []Struct
//	                       element that conf allocates itself
//
// Values follow Fluentd's types: durations "10s", "5m", "1h", "1d", "0.5"
// (seconds; barge also takes "500ms"); booleans true/yes/"" and false/no;
// arrays "a,b" or ["a","b"]; hashes "a:b,c:d" or {"a":"b"}. A field whose
// parameter is absent keeps its value: callers set defaults before Decode.
// A parameter whose value is use_default or use_nil counts as absent (Go
// fields have no nil; Section.Param, Get and Has skip it too), so a
// required one is reported missing. A required parameter whose value is
// "" because the environment variables it named are unset is missing too,
// and says so; a value made invalid by an unset variable, and a Validate
// message about its key, name the variable.
// When a parameter repeats, the last one wins, as in Fluentd. "@type",
// "@id" and "@log_level" are accepted even when the struct does not
// declare them, and "type" is taken for "@type". Every other unknown
// parameter or section is an error, with a "did you mean" suggestion for
// a likely typo.
//
// After a struct decodes without problems, its Validate() error method (on
// the pointer) is called, nested sections first. A Validate message that
// starts with a quoted key ("'bucket' is required") is reported at that
// key's line when the section has it, else at the section's line; an error
// with Unwrap() []error (errors.Join) is reported as several problems.
//
// # Errors
//
// Every problem is an *Error whose text is "FILE:LINE: message", e.g.
//
//	out.conf:12: <match app.**>: unknown parameter 'bukcet', did you mean 'bucket'?
//	out.conf:7: 'port' must be an integer, got "abc"
//	out.conf:3: 'flush_mode' must be one of default, interval, immediate, lazy, got "x"
//	out.conf:9: 's3_bucket' is required: its value "#{ENV['S3_BUCKET']}" is empty because the environment variable S3_BUCKET is unset
//
// Parse and Decode collect every problem into Errors so that "barge
// check" prints them all. After a problem Parse goes on: inside a
// double-quoted string right after it (an escape, an embedded Ruby code),
// else at the next line (an unterminated string or JSON value goes on at
// the line after the one it started on); a broken section header still
// opens its section, an end tag of an enclosing section closes the inner
// ones, and another mismatched end tag is taken for the current one. Past
// 100 problems, or nesting too deep, the parse stops. Errorf and
// ParamErrorf make errors in the same form for callers' own checks.
package conf
