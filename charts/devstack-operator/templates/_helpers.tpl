{{/* The release's full name: the release name when it already contains the chart name. */}}
{{- define "devstack-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "devstack-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "devstack-operator.labels" -}}
{{ include "devstack-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: devstack
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "devstack-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "devstack-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name must name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Leader election is on exactly when more than one replica runs ("true" / "false"). */}}
{{- define "devstack-operator.leaderElect" -}}
{{- gt (int .Values.replicas) 1 -}}
{{- end -}}

{{- define "devstack-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
What the operator does in a namespace it watches, verb by verb (operator/src/controller/).
The ClusterRole (all namespaces) and each per-namespace Role share this list.
  - devstacks: the controller lists and watches them; the finalizer is added and removed
    with a JSON patch; status goes through its subresource (server-side apply).
    devstacks/finalizers update: the owner references it sets block the owner's deletion,
    which clusters with the OwnerReferencesPermissionEnforcement admission plugin allow
    only to whoever may update the owner's finalizers.
  - secrets: the controller watches its own (list, watch); the credentials Secret is read,
    created once and completed or adopted (get, create, patch); the connections Secret is
    applied and pruned like the workloads; a reset deletes the credentials.
  - configmaps: a service's `files`; applied, watched and pruned like the workloads.
  - services, deployments, networkpolicies: read before applying (get), server-side apply
    (patch; the API server authorizes an apply that creates the object as create), watch
    what it owns, delete orphans (list, delete).
  - statefulsets: the same, plus deletecollection (a reset deletes a stack's at once).
  - persistentvolumeclaims: find a stack's claims and delete them (reset, or deletion
    without retainOnDelete); never read or watched one by one.
  - events (events.k8s.io): kube-runtime's recorder creates an Event and patches its series.
  - events (core): a StatefulSet that has no pod says why only in its FailedCreate Events
    (e.g. the namespace's Pod Security level refuses the image's user); the status quotes
    the latest (list, by field selector).
*/}}
{{- define "devstack-operator.namespacedRules" -}}
- apiGroups: ["devstack.dev"]
  resources: ["devstacks"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["devstack.dev"]
  resources: ["devstacks/status"]
  verbs: ["patch"]
- apiGroups: ["devstack.dev"]
  resources: ["devstacks/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services/proxy"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["list", "delete"]
# Read-only: why a built image's pods do not start (ErrImageNeverPull: not built).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete", "deletecollection"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["list"]
{{- end -}}

{{/*
Cluster-wide, in both modes: wait until the DevStack CRD is Established (a watch with a
metadata.name field selector, which RBAC matches against resourceNames), and list Nodes to
learn whether any offers nvidia.com/gpu (a service whose GPU is optional runs without one).
*/}}
{{- define "devstack-operator.clusterRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  resourceNames: ["devstacks.devstack.dev"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["nodes"]
  verbs: ["list"]
{{- end -}}
