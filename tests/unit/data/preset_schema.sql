-- preset_schema.sql - the preset objects of DESIGN.md section 4 as SQLite tables,
-- with foreign keys that mirror the preset catalog (schemas/catalog/preset.json).
-- Used by the plan tests; the sample environment (ferry-env seed) mirrors it.
--
-- Layout: a sub-object refers to its master ON DELETE CASCADE; a reference that
-- is not a sub-object relation (an association, or a Queue-family member that
-- the catalog pulls the other way round) is a plain foreign key. The closure of
-- preset objects comes from the catalog; these keys decide the apply order.
--
--   ProcessDecision.process_id            -> Process            CASCADE
--   ProcessCondition.process_id           -> Process            CASCADE
--   ProcessActionCall.decision_id         -> ProcessDecision    CASCADE
--   ProcessActionCall.condition_id        -> ProcessCondition   CASCADE
--   ProcessActionCondition.call_id        -> ProcessActionCall  CASCADE
--   ProcessActionInput.call_id            -> ProcessActionCall  CASCADE
--   ApprovalProcessAction.approval_process_id     -> ApprovalProcess CASCADE
--   ApprovalProcessLockAction.approval_process_id -> ApprovalProcess CASCADE
--   ApprovalStep.approval_process_id      -> ApprovalProcess    CASCADE
--   ApprovalStepAction.step_id            -> ApprovalStep       CASCADE
--   ApprovalMember.step_id                -> ApprovalStep       CASCADE
--   ApprovalMember.user_id                -> User
--   PublicGroup.role_id                   -> Role
--   Queue.owner_group_id                  -> PublicGroup
--   QueueObject.queue_id                  -> Queue              CASCADE
--   GroupMember.queue_id                  -> Queue              CASCADE
--   GroupMember.group_id                  -> PublicGroup        CASCADE
--   GroupMember.role_id                   -> Role
--   GroupMember.user_id                   -> User
--   ProfileAppVisibility.profile_id       -> Profile            CASCADE
--   ProfileAppVisibility.application_id   -> Application
--   EmailResource.template_id             -> EmailTemplate      CASCADE
--   PicklistValue.picklist_id             -> Picklist           CASCADE
--   CustomResourceValue.resource_id       -> CustomResource     CASCADE
-- Connector, Role, Application and User refer to nothing.

CREATE TABLE "User" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email VARCHAR(120));
CREATE TABLE Application (id INTEGER PRIMARY KEY, name TEXT NOT NULL);

CREATE TABLE Process (id INTEGER PRIMARY KEY, name TEXT NOT NULL, active BOOLEAN NOT NULL DEFAULT 1);
CREATE TABLE ProcessDecision (id INTEGER PRIMARY KEY,
    process_id INTEGER NOT NULL REFERENCES Process(id) ON DELETE CASCADE, label TEXT);
CREATE TABLE ProcessCondition (id INTEGER PRIMARY KEY,
    process_id INTEGER NOT NULL REFERENCES Process(id) ON DELETE CASCADE, expression TEXT);
CREATE TABLE ProcessActionCall (id INTEGER PRIMARY KEY,
    decision_id INTEGER REFERENCES ProcessDecision(id) ON DELETE CASCADE,
    condition_id INTEGER REFERENCES ProcessCondition(id) ON DELETE CASCADE, action TEXT);
CREATE TABLE ProcessActionCondition (id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES ProcessActionCall(id) ON DELETE CASCADE, expression TEXT);
CREATE TABLE ProcessActionInput (id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES ProcessActionCall(id) ON DELETE CASCADE,
    name TEXT NOT NULL, value TEXT);

CREATE TABLE ApprovalProcess (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE ApprovalProcessAction (id INTEGER PRIMARY KEY,
    approval_process_id INTEGER NOT NULL REFERENCES ApprovalProcess(id) ON DELETE CASCADE, action TEXT);
CREATE TABLE ApprovalProcessLockAction (id INTEGER PRIMARY KEY,
    approval_process_id INTEGER NOT NULL REFERENCES ApprovalProcess(id) ON DELETE CASCADE, action TEXT);
CREATE TABLE ApprovalStep (id INTEGER PRIMARY KEY,
    approval_process_id INTEGER NOT NULL REFERENCES ApprovalProcess(id) ON DELETE CASCADE,
    step_no INTEGER NOT NULL);
CREATE TABLE ApprovalStepAction (id INTEGER PRIMARY KEY,
    step_id INTEGER NOT NULL REFERENCES ApprovalStep(id) ON DELETE CASCADE, action TEXT);
CREATE TABLE ApprovalMember (id INTEGER PRIMARY KEY,
    step_id INTEGER NOT NULL REFERENCES ApprovalStep(id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES "User"(id));

CREATE TABLE Role (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE PublicGroup (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
    role_id INTEGER REFERENCES Role(id));
CREATE TABLE Queue (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
    owner_group_id INTEGER REFERENCES PublicGroup(id));
CREATE TABLE QueueObject (id INTEGER PRIMARY KEY,
    queue_id INTEGER NOT NULL REFERENCES Queue(id) ON DELETE CASCADE, object_name TEXT NOT NULL);
CREATE TABLE GroupMember (id INTEGER PRIMARY KEY,
    queue_id INTEGER REFERENCES Queue(id) ON DELETE CASCADE,
    group_id INTEGER REFERENCES PublicGroup(id) ON DELETE CASCADE,
    role_id INTEGER REFERENCES Role(id),
    user_id INTEGER REFERENCES "User"(id));

CREATE TABLE Profile (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE ProfileAppVisibility (id INTEGER PRIMARY KEY,
    profile_id INTEGER NOT NULL REFERENCES Profile(id) ON DELETE CASCADE,
    application_id INTEGER NOT NULL REFERENCES Application(id), visible BOOLEAN NOT NULL DEFAULT 1);

CREATE TABLE Connector (id INTEGER PRIMARY KEY, name TEXT NOT NULL, endpoint TEXT);

CREATE TABLE EmailTemplate (id INTEGER PRIMARY KEY, name TEXT NOT NULL, subject TEXT);
CREATE TABLE EmailResource (id INTEGER PRIMARY KEY,
    template_id INTEGER NOT NULL REFERENCES EmailTemplate(id) ON DELETE CASCADE, content BLOB);

CREATE TABLE Picklist (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE PicklistValue (id INTEGER PRIMARY KEY,
    picklist_id INTEGER NOT NULL REFERENCES Picklist(id) ON DELETE CASCADE,
    value TEXT NOT NULL, position INTEGER);

CREATE TABLE CustomResource (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE CustomResourceValue (id INTEGER PRIMARY KEY,
    resource_id INTEGER NOT NULL REFERENCES CustomResource(id) ON DELETE CASCADE,
    value TEXT);
