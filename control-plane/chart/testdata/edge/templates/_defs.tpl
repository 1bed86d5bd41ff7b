{{- define "edge.kv" -}}
{{ .key }}={{ .value }}
{{- end }}
{{- define "edge.list" -}}
{{- range $i, $v := . }}
- {{ $i }}: {{ $v | toString | quote }}
{{- end }}
{{- end }}
