package buffer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
)

// memStore keeps a chunk's frames in memory, one allocation per frame so
// that a growing chunk is never copied.
type memStore struct {
	frames [][]byte
}

var errMemory = errors.New("memory chunk has no file")

func (m *memStore) write(frame []byte) error {
	m.frames = append(m.frames, bytes.Clone(frame))
	return nil
}

func (m *memStore) open() (frameSource, error) { return &memSource{frames: m.frames}, nil }
func (m *memStore) enqueue() error             { return nil }
func (m *memStore) purge() error               { m.frames = nil; return nil }
func (m *memStore) sync() error                { return nil }
func (m *memStore) close() error               { return nil }

func (m *memStore) saveNames(map[string]string) error { return nil }

func (m *memStore) moveTo(string) (string, error) {
	m.frames = nil
	return "", errMemory
}

func hexDecode(id string) ([16]byte, error) {
	var b [16]byte
	_, err := hex.Decode(b[:], []byte(id))
	return b, err
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
