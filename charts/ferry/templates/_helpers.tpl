{{/* Chart name, shortened to Kubernetes' 63-character limit. */}}
{{- define "ferry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every resource name: the release name, plus the chart name unless the release already contains it. */}}
{{- define "ferry.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "ferry.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "ferry.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the agent pods. */}}
{{- define "ferry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ferry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end }}

{{/* The agent's ServiceAccount name. */}}
{{- define "ferry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ferry.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The container image reference. */}}
{{- define "ferry.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Labels on the bootstrap Job's objects (its pod's selector labels plus the common ones). */}}
{{- define "ferry.bootstrapLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "ferry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: bootstrap
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Whether the chart creates the bootstrap Job's ServiceAccount (not for the deprecated bootstrap.serviceAccountName, which names an existing one). */}}
{{- define "ferry.bootstrapCreateServiceAccount" -}}
{{- if and .Values.bootstrap.serviceAccount.create (not .Values.bootstrap.serviceAccountName) }}true{{ end }}
{{- end }}

{{/* The bootstrap Job's ServiceAccount name: its own, never the agent's. */}}
{{- define "ferry.bootstrapServiceAccountName" -}}
{{- $b := .Values.bootstrap }}
{{- $name := "" }}
{{- if $b.serviceAccountName }}
{{- $name = $b.serviceAccountName }}
{{- else if $b.serviceAccount.create }}
{{- $name = default (printf "%s-bootstrap" (include "ferry.fullname" .)) $b.serviceAccount.name }}
{{- else }}
{{- $name = required "bootstrap.serviceAccount.name is required when bootstrap.serviceAccount.create is false" $b.serviceAccount.name }}
{{- end }}
{{- if eq $name (include "ferry.serviceAccountName" .) }}
{{- fail (printf "the bootstrap Job must not run as the agent's ServiceAccount %q: give it its own (bootstrap.serviceAccount)" $name) }}
{{- end }}
{{- $name }}
{{- end }}

{{/* The Secret the bootstrap Job reads its values from, as NAMESPACE/NAME (bootstrap.envSecret, or the deprecated bootstrap.envFromSecret); empty when none. */}}
{{- define "ferry.bootstrapEnvSecret" -}}
{{- $b := .Values.bootstrap }}
{{- if and $b.envSecret $b.envFromSecret (ne $b.envSecret $b.envFromSecret) }}
{{- fail "set bootstrap.envSecret only (bootstrap.envFromSecret is its deprecated alias)" }}
{{- end }}
{{- $s := default $b.envFromSecret $b.envSecret }}
{{- if $s }}
{{- $parts := splitList "/" $s }}
{{- if eq (len $parts) 1 }}
{{- printf "%s/%s" .Release.Namespace $s }}
{{- else if and (eq (len $parts) 2) (first $parts) (last $parts) }}
{{- $s }}
{{- else }}
{{- fail (printf "bootstrap.envSecret must be NAME or NAMESPACE/NAME, not %q" $s) }}
{{- end }}
{{- end }}
{{- end }}
