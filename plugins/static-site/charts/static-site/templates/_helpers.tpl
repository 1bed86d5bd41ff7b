{{/* Chart name, or nameOverride. */}}
{{- define "static-site.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Resource name: the release name (or fullnameOverride). Unlike the usual
"<release>-<chart>", so the engine finds the Deployment under the store's name.
*/}}
{{- define "static-site.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "static-site.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "static-site.selectorLabels" -}}
app.kubernetes.io/name: {{ include "static-site.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "static-site.labels" -}}
helm.sh/chart: {{ include "static-site.chart" . }}
{{ include "static-site.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Container security context: non-root, nothing to escalate, read-only root. */}}
{{- define "static-site.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{- define "static-site.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end }}
