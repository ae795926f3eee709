package gcs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	raw "google.golang.org/api/storage/v1"
)

// A resumable upload is sent here rather than through storage.Writer,
// whose client copies each chunk_size request into a buffer of its own
// (to send it again on a retry): the spool already holds the bytes. It
// speaks the JSON API's resumable protocol as that client does: a POST
// with the object's metadata and ifGenerationMatch=0 opens a session;
// then each request carries a section of the spool, chunk_size bytes
// ("Content-Range: bytes A-B/*"), the last one the rest with the total
// ("bytes A-B/TOTAL") and the whole object's CRC32C (X-Goog-Hash), which
// GCS checks before it finalizes the object. A customer-supplied key
// (encryption_key) goes with every request. The next request starts
// where GCS says it has the bytes up to (the Range of its 308 answer). A
// failed request is sent again from the spool, with the same backoff and
// the same client_retries budget as the client's (counted again from
// client_retries after each request that went through); an abandoned
// session is never finalized and expires.

// uploadURL is where uploads go: the emulator of STORAGE_EMULATOR_HOST
// (host:port, or a URL), as the storage client reads it, else GCS.
func uploadURL() (string, error) {
	host := os.Getenv("STORAGE_EMULATOR_HOST")
	switch {
	case host == "":
		return "https://storage.googleapis.com", nil
	case strings.Contains(host, "://"):
		u, err := url.Parse(host)
		if err != nil {
			return "", fmt.Errorf("STORAGE_EMULATOR_HOST: %w", err)
		}
		return u.Scheme + "://" + u.Host, nil
	}
	return "http://" + host, nil
}

// putResumable sends the object as a resumable upload and checks it.
func (u *upload) putResumable(ctx context.Context) error {
	u.o.mu.Lock()
	hc, endpoint := u.o.sessions, u.o.uploadURL
	u.o.mu.Unlock()
	uri, err := u.startSession(ctx, hc, endpoint)
	if err == nil {
		u.opened = true
		var a *storage.ObjectAttrs
		if a, err = u.sendSession(ctx, hc, uri); err == nil {
			return u.verify(ctx, a)
		}
	}
	if isPreconditionFailed(err) {
		return u.existing(ctx)
	}
	return err
}

// startSession opens a resumable session for the object, create-only, and
// returns its URI.
func (u *upload) startSession(ctx context.Context, hc *http.Client, endpoint string) (string, error) {
	o := u.o
	body, err := json.Marshal(&raw.Object{Name: u.key, ContentType: o.contentType, ContentEncoding: o.encoding,
		Metadata: u.meta, StorageClass: o.storClass})
	if err != nil {
		return "", err
	}
	q := url.Values{}
	q.Set("alt", "json")
	q.Set("prettyPrint", "false")
	q.Set("projection", "full")
	q.Set("uploadType", "resumable")
	q.Set("name", u.key)
	q.Set("ifGenerationMatch", "0")
	if o.acl != "" {
		q.Set("predefinedAcl", o.acl)
	}
	target := endpoint + "/upload/storage/v1/b/" + url.PathEscape(o.cfg.Bucket) + "/o?" + q.Encode()
	var uri string
	err = u.call(ctx, hc, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
		req.Header.Set("User-Agent", o.userAgent())
		req.Header.Set("X-Upload-Content-Type", o.contentType)
		req.Header.Set("X-Upload-Content-Length", strconv.FormatInt(u.enc.size, 10))
		setEncryptionHeaders(req.Header, o.encKey)
		return req, nil
	}, func(resp *http.Response) error {
		if err := googleapi.CheckResponse(resp); err != nil {
			return err
		}
		if uri = resp.Header.Get("Location"); uri == "" {
			return errors.New("the resumable upload was opened without a session URI")
		}
		return nil
	})
	return uri, err
}

// sendSession sends the object's bytes to the session at uri, from the
// spool, and returns the attributes of the object GCS made.
func (u *upload) sendSession(ctx context.Context, hc *http.Client, uri string) (*storage.ObjectAttrs, error) {
	size := u.enc.size
	var off int64
	for {
		n := min(u.o.chunkSize, size-off)
		final := off+n == size
		var done *raw.Object
		next := off
		err := u.call(ctx, hc, func(ctx context.Context) (*http.Request, error) {
			var body io.Reader = http.NoBody
			if n > 0 {
				body = u.enc.spool.Section(off, n)
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, uri, body)
			if err != nil {
				return nil, err
			}
			req.ContentLength = n
			req.Header.Set("Content-Range", contentRange(off, n, size, final))
			req.Header.Set("Content-Type", u.o.contentType)
			req.Header.Set("User-Agent", u.o.userAgent())
			// Else GCS answers an unfinished session with a 308 that is
			// not a redirect: 200 with X-Http-Status-Code-Override: 308.
			req.Header.Set("X-GUploader-No-308", "yes")
			setEncryptionHeaders(req.Header, u.o.encKey)
			if final {
				req.Header.Set("X-Goog-Hash", "crc32c="+encodeCRC(u.expectCRC()))
			}
			return req, nil
		}, func(resp *http.Response) error {
			if resp.StatusCode == http.StatusPermanentRedirect || resp.Header.Get("X-Http-Status-Code-Override") == "308" {
				var err error
				next, err = persisted(resp.Header.Get("Range"), size)
				return err
			}
			if err := googleapi.CheckResponse(resp); err != nil {
				return err
			}
			done = new(raw.Object)
			if err := json.NewDecoder(resp.Body).Decode(done); err != nil {
				return fmt.Errorf("read the new object's attributes: %w", err)
			}
			return nil
		})
		switch {
		case err != nil:
			return nil, err
		case done != nil:
			return objectAttrs(done)
		case next > off:
			u.budget.reset()
		case !u.budget.spend():
			return nil, fmt.Errorf("resumable upload: GCS keeps %d bytes of %d, the same after %d more were sent", next, size, n)
		}
		off = next
	}
}

// call sends the request newReq makes, each within client_timeout, until
// handle accepts its answer. A retryable failure (see retryBudget) is
// tried again after a backoff of 250 ms, doubled up to 2 s.
func (u *upload) call(ctx context.Context, hc *http.Client, newReq func(context.Context) (*http.Request, error), handle func(*http.Response) error) error {
	delay := 250 * time.Millisecond
	for {
		err := u.roundTrip(ctx, hc, newReq, handle)
		if err == nil || ctx.Err() != nil || !u.budget.shouldRetry(err) {
			return err
		}
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func (u *upload) roundTrip(ctx context.Context, hc *http.Client, newReq func(context.Context) (*http.Request, error), handle func(*http.Response) error) error {
	ctx, cancel := context.WithTimeout(ctx, u.o.cfg.ClientTimeout)
	defer cancel()
	req, err := newReq(ctx)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	err = handle(resp)
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // to reuse the connection
	return err
}

// contentRange is the Content-Range of n bytes at off of an object of
// size bytes; only the last request declares the size.
func contentRange(off, n, size int64, final bool) string {
	switch {
	case final && n == 0:
		return fmt.Sprintf("bytes */%d", size)
	case final:
		return fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, size)
	}
	return fmt.Sprintf("bytes %d-%d/*", off, off+n-1)
}

// persisted reads the Range of a 308 ("bytes=0-N"): the session has
// N+1 bytes. Without a Range it has none.
func persisted(rng string, size int64) (int64, error) {
	if rng == "" {
		return 0, nil
	}
	_, last, ok := strings.Cut(strings.TrimPrefix(rng, "bytes="), "-")
	n, err := strconv.ParseInt(last, 10, 64)
	if !ok || err != nil || n+1 > size {
		return 0, fmt.Errorf("resumable upload: the session answered with Range %q for an object of %d bytes", rng, size)
	}
	return n + 1, nil
}

// objectAttrs are the attributes the object's checks need.
func objectAttrs(o *raw.Object) (*storage.ObjectAttrs, error) {
	a := &storage.ObjectAttrs{Name: o.Name, Size: int64(o.Size), Generation: o.Generation, Metadata: o.Metadata}
	if o.Crc32c != "" {
		b, err := base64.StdEncoding.DecodeString(o.Crc32c)
		if err != nil || len(b) != 4 {
			return nil, fmt.Errorf("the new object has crc32c %q", o.Crc32c)
		}
		a.CRC32C = binary.BigEndian.Uint32(b)
	}
	return a, nil
}

// setEncryptionHeaders declares a customer-supplied key (encryption_key)
// with the storage client's headers.
func setEncryptionHeaders(h http.Header, key []byte) {
	if key == nil {
		return
	}
	sum := sha256.Sum256(key)
	h.Set("X-Goog-Encryption-Algorithm", "AES256")
	h.Set("X-Goog-Encryption-Key", base64.StdEncoding.EncodeToString(key))
	h.Set("X-Goog-Encryption-Key-Sha256", base64.StdEncoding.EncodeToString(sum[:]))
}

// encodeCRC is a CRC32C as the JSON API writes it: big-endian, base64.
func encodeCRC(c uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], c)
	return base64.StdEncoding.EncodeToString(b[:])
}
