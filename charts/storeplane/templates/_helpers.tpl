{{/*
Name prefix of every object: the release name when it already contains the
chart's name, else "<release>-storeplane"; cut to 50 characters so that
"<fullname>-store" and the policy names fit in 63.
*/}}
{{- define "storeplane.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "storeplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "storeplane.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "storeplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "storeplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "storeplane.labels" -}}
helm.sh/chart: {{ include "storeplane.chart" . }}
{{ include "storeplane.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: storeplane
{{- end }}

{{/* The ServiceAccount storeplane runs as. */}}
{{- define "storeplane.serviceAccountName" -}}
{{- default (include "storeplane.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/* Its user name in the API server (audit log, RBAC, admission). */}}
{{- define "storeplane.username" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "storeplane.serviceAccountName" .) }}
{{- end }}

{{/* The ClusterRole bound cluster-wide (namespaces, watches, RoleBinding creation). */}}
{{- define "storeplane.clusterRole" -}}
{{- include "storeplane.fullname" . }}
{{- end }}

{{/* The ClusterRole storeplane binds to itself in each store namespace it creates. */}}
{{- define "storeplane.storeRole" -}}
{{- printf "%s-store" (include "storeplane.fullname" .) }}
{{- end }}

{{- define "storeplane.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Where the image keeps the bundled engines; extra bundles are mounted beside them. */}}
{{- define "storeplane.pluginsDir" -}}
/usr/lib/storeplane/plugins
{{- end }}
