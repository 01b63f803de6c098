package questionnaire_test

import (
	"reflect"
	"testing"
	"time"

	"eprom/questionnaire"
)

// TestCloneSharesNothing fills every field of an order and of a draft, at
// every depth, clones it, and checks that the clone is equal and that no
// map, slice or pointer of it is the original's: a field added later
// without a copy in Clone fails here.
func TestCloneSharesNothing(t *testing.T) {
	for name, clone := range map[string]any{
		"Order": (*questionnaire.Order).Clone,
		"Draft": (*questionnaire.Draft).Clone,
	} {
		fn := reflect.ValueOf(clone)
		orig := reflect.New(fn.Type().In(0).Elem())
		fill(orig.Elem(), 0)
		c := fn.Call([]reflect.Value{orig})[0]
		if !reflect.DeepEqual(orig.Interface(), c.Interface()) {
			t.Fatalf("the clone of the %s differs:\n%+v\n%+v", name, orig.Elem(), c.Elem())
		}
		shared(t, name, orig.Elem(), c.Elem())
	}
}

// fill gives every field of v a value that is not the zero value.
func fill(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), depth+1)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		v.SetMapIndex(k, e)
	}
}

// shared fails for every map, slice or pointer of b that is a's.
func shared(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s is shared", path)
		}
		shared(t, path, a.Elem(), b.Elem())
	case reflect.Map:
		if a.IsNil() {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s is shared", path)
		}
		for _, k := range a.MapKeys() {
			shared(t, path+"[key]", a.MapIndex(k), b.MapIndex(k))
		}
	case reflect.Slice:
		if a.Len() == 0 {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s is shared", path)
		}
		for i := range a.Len() {
			shared(t, path+"[i]", a.Index(i), b.Index(i))
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				shared(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	}
}
