package bigquery

import (
	"context"
)

func (l *Loader) listSourceForTest() ([]object, error) {
	if err := l.Open(context.Background()); err != nil {
		return nil, err
	}
	return l.listSource(context.Background())
}
