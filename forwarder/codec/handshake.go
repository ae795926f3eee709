package codec

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// Helo is the server's greeting when authentication is on:
// ['HELO', {'nonce': nonce, 'auth': salt or ”, 'keepalive': bool}].
type Helo struct {
	Nonce     []byte
	Auth      []byte // user authentication salt; empty when user_auth is off
	Keepalive bool
}

// Ping is the client's answer to HELO:
// ['PING', hostname, shared_key_salt, sha512_hex(salt+hostname+nonce+key),
// username or ”, sha512_hex(auth_salt+username+password) or ”].
type Ping struct {
	Hostname        string
	SharedKeySalt   []byte
	SharedKeyDigest string
	Username        string
	PasswordDigest  string
}

// Pong is the server's verdict:
// ['PONG', ok, reason, self_hostname, sha512_hex(salt+self_hostname+nonce+key)].
type Pong struct {
	OK              bool
	Reason          string
	Hostname        string
	SharedKeyDigest string
}

// SharedKeyDigest returns sha512_hex(salt + hostname + nonce + sharedKey).
func SharedKeyDigest(salt []byte, hostname string, nonce []byte, sharedKey string) string {
	h := sha512.New()
	h.Write(salt)
	h.Write([]byte(hostname))
	h.Write(nonce)
	h.Write([]byte(sharedKey))
	return hex.EncodeToString(h.Sum(nil))
}

// PasswordDigest returns sha512_hex(authSalt + username + password).
func PasswordDigest(authSalt []byte, username, password string) string {
	h := sha512.New()
	h.Write(authSalt)
	h.Write([]byte(username))
	h.Write([]byte(password))
	return hex.EncodeToString(h.Sum(nil))
}

// AppendHelo appends a HELO message.
func AppendHelo(dst []byte, h Helo) []byte {
	dst = msgp.AppendArrayHeader(dst, 2)
	dst = msgp.AppendString(dst, "HELO")
	dst = msgp.AppendMapHeader(dst, 3)
	dst = msgp.AppendString(dst, "nonce")
	dst = msgp.AppendBytes(dst, h.Nonce)
	dst = msgp.AppendString(dst, "auth")
	dst = msgp.AppendBytes(dst, h.Auth)
	dst = msgp.AppendString(dst, "keepalive")
	return msgp.AppendBool(dst, h.Keepalive)
}

// AppendPing appends a PING message.
func AppendPing(dst []byte, p Ping) []byte {
	dst = msgp.AppendArrayHeader(dst, 6)
	dst = msgp.AppendString(dst, "PING")
	dst = msgp.AppendString(dst, p.Hostname)
	dst = msgp.AppendBytes(dst, p.SharedKeySalt)
	dst = msgp.AppendString(dst, p.SharedKeyDigest)
	dst = msgp.AppendString(dst, p.Username)
	return msgp.AppendString(dst, p.PasswordDigest)
}

// AppendPong appends a PONG message.
func AppendPong(dst []byte, p Pong) []byte {
	dst = msgp.AppendArrayHeader(dst, 5)
	dst = msgp.AppendString(dst, "PONG")
	dst = msgp.AppendBool(dst, p.OK)
	dst = msgp.AppendString(dst, p.Reason)
	dst = msgp.AppendString(dst, p.Hostname)
	return msgp.AppendString(dst, p.SharedKeyDigest)
}

// handshakeHeader reads the array header and the message type.
func handshakeHeader(b []byte, want string) (n uint32, rest []byte, err error) {
	n, b, err = msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s: not an array", ErrMessage, want)
	}
	if n == 0 {
		return 0, nil, fmt.Errorf("%w: %s: empty array", ErrMessage, want)
	}
	typ, b, err := readRaw(b)
	if err != nil || string(typ) != want {
		return 0, nil, fmt.Errorf("%w: want %s", ErrMessage, want)
	}
	return n, b, nil
}

// DecodeHelo decodes a HELO message.
func DecodeHelo(b []byte) (Helo, error) {
	var h Helo
	_, b, err := handshakeHeader(b, "HELO")
	if err != nil {
		return h, err
	}
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return h, fmt.Errorf("%w: HELO options: %v", ErrMessage, err)
	}
	for i := uint32(0); i < n; i++ {
		var key []byte
		if key, b, err = readRaw(b); err != nil {
			return h, fmt.Errorf("%w: HELO option: %v", ErrMessage, err)
		}
		switch string(key) {
		case "nonce":
			h.Nonce, b, err = readRaw(b)
		case "auth":
			h.Auth, b, err = readRaw(b)
		case "keepalive":
			h.Keepalive, b, err = msgp.ReadBoolBytes(b)
		default:
			b, err = msgp.Skip(b)
		}
		if err != nil {
			return h, fmt.Errorf("%w: HELO option %q: %v", ErrMessage, key, err)
		}
	}
	return h, nil
}

// DecodePing decodes a PING message.
func DecodePing(b []byte) (Ping, error) {
	var p Ping
	n, b, err := handshakeHeader(b, "PING")
	if err != nil {
		return p, err
	}
	if n != 6 {
		return p, fmt.Errorf("%w: PING of %d elements, want 6", ErrMessage, n)
	}
	var f [5][]byte
	for i := range f {
		if f[i], b, err = readRaw(b); err != nil {
			return p, fmt.Errorf("%w: PING element %d: %v", ErrMessage, i+1, err)
		}
	}
	return Ping{string(f[0]), f[1], string(f[2]), string(f[3]), string(f[4])}, nil
}

// DecodePong decodes a PONG message.
func DecodePong(b []byte) (Pong, error) {
	var p Pong
	n, b, err := handshakeHeader(b, "PONG")
	if err != nil {
		return p, err
	}
	if n != 5 {
		return p, fmt.Errorf("%w: PONG of %d elements, want 5", ErrMessage, n)
	}
	if p.OK, b, err = msgp.ReadBoolBytes(b); err != nil {
		return p, fmt.Errorf("%w: PONG result: %v", ErrMessage, err)
	}
	var f [3][]byte
	for i := range f {
		if f[i], b, err = readRaw(b); err != nil {
			return p, fmt.Errorf("%w: PONG element %d: %v", ErrMessage, i+2, err)
		}
	}
	p.Reason, p.Hostname, p.SharedKeyDigest = string(f[0]), string(f[1]), string(f[2])
	return p, nil
}
