{{/* The prefix of every object's name. */}}
{{- define "gco.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gco.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one component: include with (list $ "controller"). */}}
{{- define "gco.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "gco.image" -}}
{{- $root := index . 0 -}}
{{- printf "%s:%s" (index . 1) (default $root.Chart.AppVersion $root.Values.image.tag) -}}
{{- end -}}

{{- define "gco.controller.name" -}}{{ include "gco.fullname" . }}-controller{{- end -}}
{{- define "gco.webhook.name" -}}{{ include "gco.fullname" . }}-webhook{{- end -}}
{{- define "gco.webhook.tlsSecret" -}}{{ include "gco.fullname" . }}-webhook-tls{{- end -}}
{{- define "gco.webhook.mutating" -}}{{ include "gco.fullname" . }}-mutating{{- end -}}
{{- define "gco.webhook.validating" -}}{{ include "gco.fullname" . }}-validating{{- end -}}
{{- define "gco.webhook.certificate" -}}{{ include "gco.fullname" . }}-webhook-cert{{- end -}}

{{/* The webhook configurations' annotations: cainjector fills caBundle from the Certificate. */}}
{{- define "gco.webhook.annotations" -}}
{{- if .Values.certManager.enabled }}
annotations:
  cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "gco.webhook.certificate" .) }}
{{- end }}
{{- end -}}
