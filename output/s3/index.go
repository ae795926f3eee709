package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/objkey"
)

// chooseKey returns the key of chunk c when s3_object_key_format has
// %{index}: the key recorded with c, else (or after a create-only write
// found another chunk's object at taken) the next free index for the
// key's prefix, from one listing (ListObjectsV2, paginated), recorded with
// c before any upload. Without %{index} it is the key the chunk's names
// give. Keys are checked with objkey.CheckObjectKey.
func (o *Output) chooseKey(ctx context.Context, cl *s3.Client, c *buffer.Chunk, vars objkey.ChunkVars, taken string) (string, error) {
	list := func(ctx context.Context, prefix string) ([]string, error) { return o.list(ctx, cl, prefix) }
	var key string
	var err error
	if taken == "" {
		key, err = o.names.Key(ctx, c, vars, list)
	} else {
		key, err = o.names.Taken(ctx, c, vars, taken, list)
	}
	if err != nil {
		if taken == "" {
			taken = o.keys.Key(vars)
		}
		return "", o.wrap(taken, "choose the key", err)
	}
	if err := objkey.CheckObjectKey(key); err != nil {
		return "", buffer.Permanent(fmt.Errorf("put s3://%s/%s: %w", o.cfg.S3Bucket, key, err))
	}
	return key, nil
}

// list returns the keys in the bucket that start with prefix.
func (o *Output) list(ctx context.Context, cl *s3.Client, prefix string) ([]string, error) {
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: &o.cfg.S3Bucket, Prefix: &prefix})
	var keys []string
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, obj := range out.Contents {
			keys = append(keys, aws.ToString(obj.Key))
		}
	}
	return keys, nil
}
