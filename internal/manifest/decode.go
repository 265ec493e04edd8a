package manifest

import (
	"fmt"
	"reflect"
	"strings"

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
			delim := string(c)
			if multi {
				delim = strings.Repeat(delim, 3)
				i += 2
			}
			// Find the closing delimiter; basic strings have escapes.
			for i++; i < len(data); i++ {
				if data[i] == '\\' && c == '"' {
					i++
					continue
				}
				if data[i] == '\n' {
					if !multi {
						break // unterminated: the decoder reports it
					}
					line, lineStart = line+1, i+1
				}
				if strings.HasPrefix(string(data[i:min(i+len(delim), len(data))]), delim) {
					i += len(delim) - 1
					// A multi-line string may end with up to two extra quotes.
					for multi && i+1 < len(data) && data[i+1] == c {
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
// so the walk allocates nothing on a clean manifest.
func walkStrings(v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); !termsafe.Clean(s) {
			return &stringError{err: termsafe.Check(s)}
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if !f.IsExported() || tag == "-" {
				continue
			}
			if err := walkStrings(v.Field(i)); err != nil {
				if tag == "" {
					tag = strings.ToLower(f.Name)
				}
				return err.(*stringError).under(tag)
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
