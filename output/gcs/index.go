package gcs

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/objkey"
)

// chooseKey returns the key of chunk c when object_key_format has
// %{index}: the key recorded with c, else (or after a create-only write
// found another chunk's object at taken) the next free index for the
// key's prefix, from one listing of the bucket with that prefix, recorded
// with c before any upload. Without %{index} it is the key the chunk's
// names give. Keys are checked with objkey.CheckObjectKey.
func (o *Output) chooseKey(ctx context.Context, c *buffer.Chunk, vars objkey.ChunkVars, taken string) (string, error) {
	var key string
	var err error
	if taken == "" {
		key, err = o.names.Key(ctx, c, vars, o.list)
	} else {
		key, err = o.names.Taken(ctx, c, vars, taken, o.list)
	}
	if err != nil {
		if taken == "" {
			taken = o.keys.Key(vars)
		}
		return "", o.wrap("gs://"+o.cfg.Bucket+"/"+taken, fmt.Errorf("choose the key: %w", err))
	}
	if err := objkey.CheckObjectKey(key); err != nil {
		return "", buffer.Permanent(fmt.Errorf("put gs://%s/%s: %w", o.cfg.Bucket, key, err))
	}
	return key, nil
}

// list returns the names of the objects in the bucket that start with
// prefix.
func (o *Output) list(ctx context.Context, prefix string) ([]string, error) {
	cl, err := o.storageClient(ctx)
	if err != nil {
		return nil, err
	}
	q := &storage.Query{Prefix: prefix}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		return nil, err
	}
	it := cl.Bucket(o.cfg.Bucket).Objects(ctx, q)
	var names []string
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		names = append(names, a.Name)
	}
}
