-- Versioning: the older deployments a worker also serves ("*" for any), besides
-- its own deployment_id, so that a run nobody serves can be shown as such.
ALTER TABLE workers ADD COLUMN serve_deployments TEXT[];
