package manifest

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/monogres/monogres/internal/termsafe"
)

// Bounds checked before decoding, so a hostile manifest fails fast: the
// TOML decoder's cost grows with the square of the nesting depth.
const (
	// MaxBytes bounds a manifest's size (the 10,000-input scale manifest
	// is about 1.3 MB).
	MaxBytes = 64 << 20
	// MaxDepth bounds nested arrays and inline tables (a manifest needs 2).
	MaxDepth = 16
)

// checkShape rejects data larger than MaxBytes or nested deeper than
// MaxDepth, naming the line and column, in one pass that knows TOML's
// strings and comments.
func checkShape(file string, data []byte) error {
	if len(data) > MaxBytes {
		return fmt.Errorf("%s: %d bytes: a manifest may have at most %d bytes", file, len(data), MaxBytes)
	}
	line, lineStart, depth := 1, 0, 0
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line, lineStart = line+1, i+1
		case '#':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			multi := i+2 < len(data) && data[i+1] == c && data[i+2] == c
			if multi {
				i += 2
			}
			// Find the closing delimiter; basic strings have escapes. (This
			// loop sees every byte of every string: it compares bytes only.)
			for i++; i < len(data); i++ {
				b := data[i]
				if b == '\\' && c == '"' {
					// The escaped byte may be a line-ending backslash's newline.
					if i++; i < len(data) && data[i] == '\n' {
						line, lineStart = line+1, i+1
					}
					continue
				}
				if b == '\n' {
					if !multi {
						break // unterminated: the decoder reports it
					}
					line, lineStart = line+1, i+1
				}
				if b != c {
					continue
				}
				if !multi {
					break
				}
				if i+2 < len(data) && data[i+1] == c && data[i+2] == c {
					i += 2
					// A multi-line string may end with up to two extra quotes.
					for i+1 < len(data) && data[i+1] == c {
						i++
					}
					break
				}
			}
		case '[', '{':
			if depth++; depth > MaxDepth {
				return fmt.Errorf("%s:%d:%d: arrays and inline tables nested deeper than %d levels", file, line, i-lineStart+1, MaxDepth)
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}

// checkStrings rejects a decoded string anywhere in m that holds terminal
// control characters (termsafe.Unsafe): names, versions, URLs and the rest
// are printed in plans, diffs and errors.
func checkStrings(m *Manifest) error {
	return walkStrings(reflect.ValueOf(m).Elem())
}

// walkStrings checks every string under v. The path of a bad one
// ("extension[3].versions[0]") is built only on the way out of an error,
// so the walk allocates nothing on a clean manifest; fields that cannot
// hold a string are not visited (walkFields).
func walkStrings(v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); !termsafe.Clean(s) {
			return &stringError{err: termsafe.Check(s)}
		}
	case reflect.Struct:
		for _, f := range walkFields(v.Type()) {
			if err := walkStrings(v.Field(f.index)); err != nil {
				if f.name == "" {
					return err // an embedded struct: its keys are the outer table's
				}
				return err.(*stringError).under(f.name)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := walkStrings(v.Index(i)); err != nil {
				return err.(*stringError).under(fmt.Sprintf("[%d]", i))
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := fmt.Sprint(iter.Key().Interface())
			if !termsafe.Clean(k) {
				return &stringError{err: fmt.Errorf("key %v", termsafe.Check(k))}
			}
			if err := walkStrings(iter.Value()); err != nil {
				return err.(*stringError).under(k)
			}
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return walkStrings(v.Elem())
		}
	}
	return nil
}

// walkField is a struct field walkStrings visits: its index and TOML key
// ("" for an embedded struct, whose keys sit in the outer table).
type walkField struct {
	index int
	name  string
}

var walkFieldsOf sync.Map // reflect.Type -> []walkField

// walkFields are the fields of struct type t that TOML decodes and that
// can hold a string, computed once per type.
func walkFields(t reflect.Type) []walkField {
	if fs, ok := walkFieldsOf.Load(t); ok {
		return fs.([]walkField)
	}
	var fs []walkField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if !f.IsExported() || tag == "-" || !holdsStrings(f.Type, map[reflect.Type]bool{}) {
			continue
		}
		switch {
		case tag != "":
		case f.Anonymous && f.Type.Kind() == reflect.Struct:
		default:
			tag = strings.ToLower(f.Name)
		}
		fs = append(fs, walkField{i, tag})
	}
	walkFieldsOf.Store(t, fs)
	return fs
}

// holdsStrings says whether a value of type t can hold a string (or a map
// key walkStrings checks); seen guards against recursive types.
func holdsStrings(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.String, reflect.Map, reflect.Interface:
		return true
	case reflect.Slice, reflect.Array, reflect.Pointer:
		return holdsStrings(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() && holdsStrings(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}

// stringError is a bad string and its path in the manifest, built from the
// innermost part outwards.
type stringError struct {
	path string
	err  error
}

// under prefixes the path with part, a key or an index ("[3]").
func (e *stringError) under(part string) *stringError {
	switch {
	case e.path == "":
		e.path = part
	case strings.HasPrefix(e.path, "["):
		e.path = part + e.path
	default:
		e.path = part + "." + e.path
	}
	return e
}

func (e *stringError) Error() string { return fmt.Sprintf("%s: %v", e.path, e.err) }
