// Command gen regenerates the data the simulated cluster serves and decodes
// with, from the pinned upstream Kubernetes modules:
//
//   - data/protobuf-schema.json: for every built-in kind, the protobuf field
//     numbers, JSON names and types of its Go struct (read by reflection from
//     k8s.io/api and friends), so the simulator can decode the protobuf bodies
//     kubectl sends (client-go's generated clients use protobuf for built-in
//     kinds);
//   - data/openapi-v3.json: the published OpenAPI v3 schemas of the built-in
//     kinds (k8s.io/kubernetes' api/openapi-spec/v3, deduplicated), which
//     `kubectl explain` reads.
//
// Run from this directory:
//
//	go run . -openapi "$(go mod download -json k8s.io/kubernetes@v1.37.2 | jq -r .Dir)/api/openapi-spec/v3" -out ../data
//
// (see gen.sh, which does exactly that). The output is committed; nothing
// runs at build time.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

// field is one protobuf field of a message: [number, json name, type, flags, ref].
type field struct {
	Number int
	JSON   string
	Type   string // string bool int32 int64 uint32 uint64 float32 float64 bytes message map time microtime duration quantity intstr raw
	Flags  string // p: pointer (present even when zero), r: repeated, i: inline, w: wrapper message {1: items}, o: json omitempty, z: json omitzero
	Ref    string // message type, or "key type|value type[|value ref]" for maps
}

func (f field) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{f.Number, f.JSON, f.Type, f.Flags, f.Ref})
}

var (
	messages = map[string][]field{}
	timeType      = reflect.TypeOf(metav1.Time{})
	microTimeType = reflect.TypeOf(metav1.MicroTime{})
	durationType  = reflect.TypeOf(metav1.Duration{})
	quantityType  = reflect.TypeOf(resource.Quantity{})
	intstrType    = reflect.TypeOf(intstr.IntOrString{})
	rawExtType    = reflect.TypeOf(runtime.RawExtension{})
	fieldsV1Type  = reflect.TypeOf(metav1.FieldsV1{})
	jsonV1Type    = reflect.TypeOf(apiextensionsv1.JSON{})
	jsonV1b1Type  = reflect.TypeOf(apiextensionsv1beta1.JSON{})
)

func typeName(t reflect.Type) string {
	pkg := strings.TrimPrefix(t.PkgPath(), "k8s.io/")
	return pkg + "." + t.Name()
}

// special returns the name of a type with its own JSON form, or "".
func special(t reflect.Type) string {
	switch t {
	case timeType:
		return "time"
	case microTimeType:
		return "microtime"
	case durationType:
		return "duration"
	case quantityType:
		return "quantity"
	case intstrType:
		return "intstr"
	case rawExtType, fieldsV1Type, jsonV1Type, jsonV1b1Type:
		return "raw"
	}
	return ""
}

func scalar(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int32:
		return "int32"
	case reflect.Int64, reflect.Int:
		return "int64"
	case reflect.Uint32:
		return "uint32"
	case reflect.Uint64:
		return "uint64"
	case reflect.Float32:
		return "float32"
	case reflect.Float64:
		return "float64"
	}
	return ""
}

// valueType describes an element type: its type code and referenced message.
func valueType(t reflect.Type) (string, string) {
	for t.Kind() == reflect.Ptr {
		t = t.Elem()
	}
	if s := special(t); s != "" {
		return s, ""
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
		return "bytes", ""
	}
	if t.Kind() == reflect.Struct {
		visit(t)
		return "message", typeName(t)
	}
	if t.Kind() == reflect.Slice {
		// A named slice used as a message (map values such as ExtraValue):
		// message { repeated <elem> items = 1; }.
		name := typeName(t)
		if _, done := messages[name]; !done {
			code, ref := valueType(t.Elem())
			messages[name] = []field{{Number: 1, JSON: "items", Type: code, Flags: "r", Ref: ref}}
		}
		return "message", name
	}
	return scalar(t), ""
}

func visit(t reflect.Type) {
	name := typeName(t)
	if _, done := messages[name]; done || special(t) != "" {
		return
	}
	messages[name] = nil // mark before recursing (recursive types)
	var fields []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("protobuf")
		if tag == "" {
			continue // TypeMeta and other fields protobuf does not carry
		}
		parts := strings.Split(tag, ",")
		number, err := strconv.Atoi(parts[1])
		if err != nil {
			panic(fmt.Sprintf("%s.%s: %v", name, sf.Name, err))
		}
		label := parts[2]
		jsonTag := strings.Split(sf.Tag.Get("json"), ",")
		jsonName := jsonTag[0]
		f := field{Number: number, JSON: jsonName}
		if strings.Contains(sf.Tag.Get("json"), "inline") || jsonName == "" {
			f.Flags += "i"
			f.JSON = ""
		}
		// How encoding/json writes the field, which is how the apiserver
		// prints every object (the simulator's Go encoding follows it).
		for _, option := range jsonTag[1:] {
			switch option {
			case "omitempty":
				f.Flags += "o"
			case "omitzero":
				f.Flags += "z"
			}
		}
		ft := sf.Type
		if ft.Kind() == reflect.Ptr {
			f.Flags += "p"
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Map:
			keyCode, _ := valueType(ft.Key())
			valCode, valRef := valueType(ft.Elem())
			f.Type = "map"
			f.Ref = keyCode + "|" + valCode + "|" + valRef
		case special(ft) != "":
			f.Type = special(ft)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Uint8:
			f.Type = "bytes"
		case ft.Kind() == reflect.Slice && label == "opt":
			// A named slice carried as a wrapper message (metav1.Verbs).
			code, ref := valueType(ft.Elem())
			f.Type, f.Ref = code, ref
			f.Flags += "w"
		case ft.Kind() == reflect.Slice:
			f.Type, f.Ref = valueType(ft.Elem())
			f.Flags += "r"
		default:
			f.Type, f.Ref = valueType(ft)
		}
		if f.Type == "" {
			panic(fmt.Sprintf("%s.%s: unsupported type %s", name, sf.Name, ft))
		}
		fields = append(fields, f)
	}
	messages[name] = fields
}

func writeJSON(path string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		panic(err)
	}
	fmt.Printf("%s: %d bytes\n", path, len(data)+1)
}

func protobufSchema(out string) {
	s := runtime.NewScheme()
	if err := scheme.AddToScheme(s); err != nil {
		panic(err)
	}
	for _, add := range []func(*runtime.Scheme) error{apiextensionsv1.AddToScheme, apiextensionsv1beta1.AddToScheme, apiregistrationv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	kinds := map[string]string{}
	for gvk, t := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal || t.Kind() != reflect.Struct {
			continue
		}
		if t.PkgPath() == "k8s.io/apimachinery/pkg/apis/meta/v1" && gvk.Kind != "DeleteOptions" && gvk.Kind != "Status" {
			continue // list/watch options are query parameters, not bodies
		}
		visit(t)
		kinds[gvk.GroupVersion().String()+"/"+gvk.Kind] = typeName(t)
	}
	writeJSON(filepath.Join(out, "protobuf-schema.json"), map[string]any{
		"kinds":    kinds,
		"messages": messages,
	})
}

// openAPI merges the per-group-version v3 documents into one text file the
// server reads without parsing JSON (it slices the schemas out of the
// binary and concatenates them into a document on request), one record a
// line, tab-separated:
//
//	S <schema name> <schema JSON>          every schema once
//	D <document path> <name,name,...>      the schemas of each document
//	O <document path> <name> <schema JSON> a schema that differs in this
//	                                       document (the GVK lists of
//	                                       DeleteOptions and WatchEvent)
func openAPI(dir, out string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		panic(err)
	}
	schemas := map[string][]byte{}
	var docLines, overrideLines []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, "_openapi.json") {
			continue
		}
		// api__v1_openapi.json -> api/v1; apis__apps__v1_openapi.json -> apis/apps/v1
		path := strings.ReplaceAll(strings.TrimSuffix(name, "_openapi.json"), "__", "/")
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			panic(err)
		}
		var doc struct {
			Components struct {
				Schemas map[string]json.RawMessage `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			panic(err)
		}
		if len(doc.Components.Schemas) == 0 {
			continue
		}
		var names []string
		for schemaName, raw := range doc.Components.Schemas {
			names = append(names, schemaName)
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				panic(err)
			}
			compact, err := json.Marshal(v)
			if err != nil {
				panic(err)
			}
			if existing, ok := schemas[schemaName]; !ok {
				schemas[schemaName] = compact
			} else if string(existing) != string(compact) {
				overrideLines = append(overrideLines, "O "+path+"\t"+schemaName+"\t"+string(compact))
			}
		}
		sort.Strings(names)
		docLines = append(docLines, "D "+path+"\t"+strings.Join(names, ","))
	}
	var schemaNames []string
	for n := range schemas {
		schemaNames = append(schemaNames, n)
	}
	sort.Strings(schemaNames)
	sort.Strings(docLines)
	sort.Strings(overrideLines)
	var b strings.Builder
	b.WriteString("# The OpenAPI v3 schemas of k8s.io/kubernetes@v1.37.2 api/openapi-spec/v3, regenerated by gen/gen.sh.\n")
	for _, n := range schemaNames {
		b.WriteString("S " + n + "\t" + string(schemas[n]) + "\n")
	}
	for _, l := range docLines {
		b.WriteString(l + "\n")
	}
	for _, l := range overrideLines {
		b.WriteString(l + "\n")
	}
	path := filepath.Join(out, "openapi-v3.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		panic(err)
	}
	fmt.Printf("%s: %d bytes\n", path, b.Len())
}

func main() {
	openapiDir := flag.String("openapi", "", "k8s.io/kubernetes' api/openapi-spec/v3 directory")
	out := flag.String("out", "../data", "output directory")
	flag.Parse()
	if *openapiDir == "" {
		fmt.Fprintln(os.Stderr, "-openapi is required (see gen.sh)")
		os.Exit(2)
	}
	protobufSchema(*out)
	openAPI(*openapiDir, *out)
}
