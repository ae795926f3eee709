package bqtest

import (
	"encoding/json"
	"net/http"
	"testing"

	"cloud.google.com/go/bigquery"
)

func TestDatasetAndPartitionedTable(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	md, err := e.bq.Dataset(dsID).Table(tableID).Metadata(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	tp := md.TimePartitioning
	if tp == nil || tp.Type != bigquery.HourPartitioningType || tp.Field != "time" {
		t.Fatalf("time partitioning %+v", tp)
	}
	if len(md.Schema) != 3 || md.Schema[0].Type != bigquery.TimestampFieldType || !md.Schema[0].Required || md.Schema[1].Type != bigquery.IntegerFieldType {
		t.Fatalf("schema %+v", md.Schema)
	}
	if md.Location != "US" || md.ETag == "" || md.NumRows != 0 {
		t.Fatalf("metadata %+v", md)
	}
	dmd, err := e.bq.Dataset(dsID).Metadata(ctx(t))
	if err != nil || dmd.Location != "US" {
		t.Fatalf("dataset metadata %+v, %v", dmd, err)
	}

	t.Run("duplicate table is 409", func(t *testing.T) {
		err := e.bq.Dataset(dsID).Table(tableID).Create(ctx(t), &bigquery.TableMetadata{Schema: eventSchema})
		if code, reason := apiCode(err); code != 409 || reason != "duplicate" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("missing table is 404", func(t *testing.T) {
		_, err := e.bq.Dataset(dsID).Table("nope").Metadata(ctx(t))
		if code, reason := apiCode(err); code != 404 || reason != "notFound" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("partitioning on a STRING column is 400", func(t *testing.T) {
		err := e.bq.Dataset(dsID).Table("bad").Create(ctx(t), &bigquery.TableMetadata{Schema: eventSchema,
			TimePartitioning: &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: "message"}})
		if code, _ := apiCode(err); code != 400 {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("duplicate column names differ only in case", func(t *testing.T) {
		err := e.bq.Dataset(dsID).Table("dup").Create(ctx(t), &bigquery.TableMetadata{Schema: bigquery.Schema{
			{Name: "a", Type: bigquery.StringFieldType}, {Name: "A", Type: bigquery.StringFieldType}}})
		if code, _ := apiCode(err); code != 400 {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("both route prefixes and JSON 404", func(t *testing.T) {
		for path, want := range map[string]int{
			"/projects/proj/datasets/logs/tables/events":             200,
			"/bigquery/v2/projects/proj/datasets/logs/tables/events": 200,
			"/bigquery/v2/projects/proj/datasets/logs/tables/nope":   404,
			"/bigquery/v2/projects/proj/queries":                     404,
		} {
			res, err := http.Get(e.srv.URL() + path)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			err = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			if err != nil || res.StatusCode != want {
				t.Fatalf("%s: %d, %v", path, res.StatusCode, err)
			}
			if want == 404 {
				eb, _ := body["error"].(map[string]any)
				if eb == nil || eb["code"].(float64) != 404 || eb["status"] != "NOT_FOUND" {
					t.Fatalf("%s: error body %v", path, body)
				}
			}
		}
	})
}

func TestTableUpdateSchema(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	tbl := e.bq.Dataset(dsID).Table(tableID)
	md, err := tbl.Metadata(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	added := append(md.Schema, &bigquery.FieldSchema{Name: "host", Type: bigquery.StringFieldType})
	md2, err := tbl.Update(ctx(t), bigquery.TableMetadataToUpdate{Schema: added}, md.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if len(md2.Schema) != 4 || md2.Schema[3].Name != "host" {
		t.Fatalf("schema after update %+v", md2.Schema)
	}
	t.Run("stale etag is 412", func(t *testing.T) {
		_, err := tbl.Update(ctx(t), bigquery.TableMetadataToUpdate{Description: "x"}, md.ETag)
		if code, _ := apiCode(err); code != 412 {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("removing a field is 400", func(t *testing.T) {
		_, err := tbl.Update(ctx(t), bigquery.TableMetadataToUpdate{Schema: md2.Schema[:3]}, "")
		if code, _ := apiCode(err); code != 400 {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("changing a type is 400", func(t *testing.T) {
		s := bigquery.Schema{md2.Schema[0], {Name: "seq", Type: bigquery.StringFieldType}, md2.Schema[2], md2.Schema[3]}
		_, err := tbl.Update(ctx(t), bigquery.TableMetadataToUpdate{Schema: s}, "")
		if code, _ := apiCode(err); code != 400 {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("relaxing REQUIRED", func(t *testing.T) {
		s := bigquery.Schema{{Name: "time", Type: bigquery.TimestampFieldType}, md2.Schema[1], md2.Schema[2], md2.Schema[3]}
		md3, err := tbl.Update(ctx(t), bigquery.TableMetadataToUpdate{Schema: s}, "")
		if err != nil || md3.Schema[0].Required {
			t.Fatalf("schema %+v, %v", md3, err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := tbl.Delete(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := tbl.Metadata(ctx(t)); err == nil {
			t.Fatal("table still there")
		}
	})
}
