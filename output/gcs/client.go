package gcs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"
)

// ClientConfig is what a storage client of barge is made from: the gcs
// output's, the BigQuery loader's and barge schema infer's. They share one
// set of credential rules (Credentials) and one emulator switch
// (STORAGE_EMULATOR_HOST, read here and nowhere else in barge).
type ClientConfig struct {
	// Keyfile is the path of a credentials JSON file; KeyJSON is the JSON
	// itself (the loader's json_key may hold either). At most one is set;
	// neither: Application Default Credentials.
	Keyfile string
	KeyJSON []byte
	// Param is the parameter that holds the key, as messages name it
	// ("" is keyfile).
	Param string
	// UserAgent is sent with each request ("": the library's).
	UserAgent string
	// Scopes are the OAuth scopes of the credentials ("": the storage
	// client's default, full control).
	Scopes []string
	// Transport, when set, carries the requests, under the credentials:
	// the loader's, which logs outages (it keeps closing its idle
	// connections). Nil: the client's own transport.
	Transport http.RoundTripper
}

// credTypes are the credential files keyfile may name.
var credTypes = map[string]option.CredentialsType{
	"service_account":              option.ServiceAccount,
	"authorized_user":              option.AuthorizedUser,
	"impersonated_service_account": option.ImpersonatedServiceAccount,
	"external_account":             option.ExternalAccount,
}

// emulator reports whether STORAGE_EMULATOR_HOST sends every request to
// an emulator (such as fake-gcs-server), without credentials.
func emulator() bool { return os.Getenv("STORAGE_EMULATOR_HOST") != "" }

// Credentials reads the key of cfg: a service account, authorized user,
// impersonated service account or external account JSON, by its "type".
// It returns no option for Application Default Credentials. Errors name
// the parameter (and the file), never the key's content.
func Credentials(cfg ClientConfig) ([]option.ClientOption, error) {
	param := cfg.Param
	if param == "" {
		param = "keyfile"
	}
	data, name := cfg.KeyJSON, fmt.Sprintf("'%s'", param)
	switch {
	case cfg.Keyfile != "":
		var err error
		if data, err = os.ReadFile(cfg.Keyfile); err != nil {
			return nil, fmt.Errorf("'%s': %w", param, err)
		}
		name = fmt.Sprintf("'%s' %q", param, cfg.Keyfile)
	case len(data) == 0:
		return nil, nil
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%s is not a credentials JSON file: %w", name, err)
	}
	ct, ok := credTypes[head.Type]
	if !ok {
		return nil, fmt.Errorf("%s has type %q, not service_account, authorized_user, impersonated_service_account or external_account", name, head.Type)
	}
	return []option.ClientOption{option.WithAuthCredentialsJSON(ct, data)}, nil
}

// ClientOptions returns the options of a storage client: against an
// emulator no credentials at all (the key is not read), else the key of
// cfg or Application Default Credentials. With cfg.Transport, the options
// are one HTTP client, authenticated unless against an emulator. Building
// them dials nothing: tokens are fetched with the first request.
func ClientOptions(ctx context.Context, cfg ClientConfig) ([]option.ClientOption, error) {
	if cfg.Transport != nil {
		hc, err := httpClient(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return []option.ClientOption{option.WithHTTPClient(hc)}, nil
	}
	opts, err := keyOptions(cfg)
	if err != nil {
		return nil, err
	}
	if emulator() {
		opts = append(opts, option.WithoutAuthentication())
	}
	return opts, nil
}

// httpClient returns an HTTP client over cfg.Transport whose requests
// carry cfg's credentials, user agent and scopes (none against an
// emulator). The storage client takes such a client as it is; the gcs
// output sends its resumable uploads through one (session.go).
func httpClient(ctx context.Context, cfg ClientConfig) (*http.Client, error) {
	opts, err := keyOptions(cfg)
	if err != nil {
		return nil, err
	}
	rt := cfg.Transport
	if !emulator() {
		if rt, err = htransport.NewTransport(ctx, rt, opts...); err != nil {
			return nil, fmt.Errorf("gcs credentials: %w", err)
		}
	}
	return &http.Client{Transport: rt}, nil
}

// keyOptions are cfg's user agent, scopes and, unless against an
// emulator, credentials.
func keyOptions(cfg ClientConfig) ([]option.ClientOption, error) {
	var opts []option.ClientOption
	if cfg.UserAgent != "" {
		opts = append(opts, option.WithUserAgent(cfg.UserAgent))
	}
	if len(cfg.Scopes) > 0 {
		opts = append(opts, option.WithScopes(cfg.Scopes...))
	}
	if !emulator() {
		creds, err := Credentials(cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, creds...)
	}
	return opts, nil
}

// NewClient makes a storage client with ClientOptions and then extra. The
// client is not bound to ctx's cancellation: it outlives the call.
func NewClient(ctx context.Context, cfg ClientConfig, extra ...option.ClientOption) (*storage.Client, error) {
	opts, err := ClientOptions(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c, err := storage.NewClient(context.WithoutCancel(ctx), append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("gcs client: %w", err)
	}
	return c, nil
}
