//! Permissions and the built-in roles, including the separation of the three administrators
//! (三权分立): system administrator, security administrator and audit administrator.
//!
//! The duties split the way Chinese graded-protection practice expects:
//! - the **system administrator** (系统管理员) runs the node: tenants, accounts and their
//!   password resets, API keys;
//! - the **security administrator** (安全管理员) decides who may do what: roles, role
//!   assignments, data scopes, unlocking;
//! - the **audit administrator** (审计管理员) reads and verifies the audit trail.
//!
//! No account may hold roles from two of these lineages. The one who learns a password (the
//! system administrator, through creation or reset) never grants roles, and the one who grants
//! roles never learns a password, so no single administrator can make an account with another
//! duty and sign in with it. The rules that close the remaining paths live in
//! `accounts`: no reset of an administrator's password online, no grant to oneself, and an
//! administrator role only for an account whose owner has set their own password.

use serde::{Deserialize, Serialize};

/// A permission. Stored by its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Permission {
    /// See tenants.
    #[serde(rename = "tenant.read")]
    TenantRead,
    /// Create and change tenants.
    #[serde(rename = "tenant.write")]
    TenantWrite,
    /// See user accounts.
    #[serde(rename = "user.read")]
    UserRead,
    /// Create, change and disable user accounts and reset their passwords.
    #[serde(rename = "user.write")]
    UserWrite,
    /// Unlock accounts and set data scopes.
    #[serde(rename = "user.security")]
    UserSecurity,
    /// See roles.
    #[serde(rename = "role.read")]
    RoleRead,
    /// Create and change roles.
    #[serde(rename = "role.write")]
    RoleWrite,
    /// Assign roles to users.
    #[serde(rename = "role.assign")]
    RoleAssign,
    /// See API keys.
    #[serde(rename = "apikey.read")]
    ApiKeyRead,
    /// Create and revoke API keys.
    #[serde(rename = "apikey.write")]
    ApiKeyWrite,
    /// Read the audit trail.
    #[serde(rename = "audit.read")]
    AuditRead,
    /// Verify the audit chain.
    #[serde(rename = "audit.verify")]
    AuditVerify,
    /// Search and read the registry (entities, sites, products, devices).
    #[serde(rename = "registry.read")]
    RegistryRead,
    /// Register and change registry objects.
    #[serde(rename = "registry.write")]
    RegistryWrite,
    /// Approve or reject registrations and changes.
    #[serde(rename = "registry.review")]
    RegistryReview,
    /// Add local product categories.
    #[serde(rename = "catalogue.write")]
    CatalogueWrite,
    /// Search trace information and read submissions and their receipts.
    #[serde(rename = "trace.read")]
    TraceRead,
    /// Submit trace information (exchange envelopes, imports).
    #[serde(rename = "trace.write")]
    TraceWrite,
    /// Set ingestion policies and anomaly rules, review anomalies, run quality reports.
    #[serde(rename = "quality.manage")]
    QualityManage,
    /// See the federation: children, batches, rolled-up indicators.
    #[serde(rename = "federation.read")]
    FederationRead,
    /// Run roll-ups, enrol children, manage the node's certificates.
    #[serde(rename = "federation.manage")]
    FederationManage,
    /// See the background jobs, their schedules and last runs.
    #[serde(rename = "job.read")]
    JobRead,
    /// Read the daily and period statistics of the jurisdiction (own data and children's
    /// rolled-up slices) and the registrations rolled up from below, within the caller's
    /// region.
    #[serde(rename = "statistics.read")]
    StatisticsRead,
    /// Define industry statistics forms, import the 三新 classification, assign reporting
    /// units, close periods, remind units.
    #[serde(rename = "industry.manage")]
    IndustryManage,
    /// Review the reports of reporting units.
    #[serde(rename = "industry.review")]
    IndustryReview,
    /// Fill and submit the industry statistics reports of the caller's own tenant.
    #[serde(rename = "industry.report")]
    IndustryReport,
    /// Review platform access applications and watch filed platforms.
    #[serde(rename = "access.review")]
    AccessReview,
    /// File approved access applications (making the tenant and its credentials), suspend
    /// and revoke filed platforms.
    #[serde(rename = "access.file")]
    AccessFile,
    /// Read the operation monitoring of entities, sites and tenants (a tenant's caller: its
    /// own) and the warnings.
    #[serde(rename = "monitoring.read")]
    MonitoringRead,
    /// Set the monitoring thresholds and run a round of warnings.
    #[serde(rename = "monitoring.manage")]
    MonitoringManage,
    /// Read evaluation indicator sets, runs and results (a tenant's caller: its own).
    #[serde(rename = "evaluation.read")]
    EvaluationRead,
    /// Define evaluation indicator sets and run evaluations.
    #[serde(rename = "evaluation.manage")]
    EvaluationManage,
}

impl Permission {
    /// Every permission, in display order.
    pub const ALL: [Permission; 32] = [
        Permission::TenantRead,
        Permission::TenantWrite,
        Permission::UserRead,
        Permission::UserWrite,
        Permission::UserSecurity,
        Permission::RoleRead,
        Permission::RoleWrite,
        Permission::RoleAssign,
        Permission::ApiKeyRead,
        Permission::ApiKeyWrite,
        Permission::AuditRead,
        Permission::AuditVerify,
        Permission::RegistryRead,
        Permission::RegistryWrite,
        Permission::RegistryReview,
        Permission::CatalogueWrite,
        Permission::TraceRead,
        Permission::TraceWrite,
        Permission::QualityManage,
        Permission::FederationRead,
        Permission::FederationManage,
        Permission::JobRead,
        Permission::StatisticsRead,
        Permission::IndustryManage,
        Permission::IndustryReview,
        Permission::IndustryReport,
        Permission::AccessReview,
        Permission::AccessFile,
        Permission::MonitoringRead,
        Permission::MonitoringManage,
        Permission::EvaluationRead,
        Permission::EvaluationManage,
    ];

    /// The stored code, e.g. `tenant.write`.
    pub fn code(self) -> &'static str {
        match self {
            Permission::TenantRead => "tenant.read",
            Permission::TenantWrite => "tenant.write",
            Permission::UserRead => "user.read",
            Permission::UserWrite => "user.write",
            Permission::UserSecurity => "user.security",
            Permission::RoleRead => "role.read",
            Permission::RoleWrite => "role.write",
            Permission::RoleAssign => "role.assign",
            Permission::ApiKeyRead => "apikey.read",
            Permission::ApiKeyWrite => "apikey.write",
            Permission::AuditRead => "audit.read",
            Permission::AuditVerify => "audit.verify",
            Permission::RegistryRead => "registry.read",
            Permission::RegistryWrite => "registry.write",
            Permission::RegistryReview => "registry.review",
            Permission::CatalogueWrite => "catalogue.write",
            Permission::TraceRead => "trace.read",
            Permission::TraceWrite => "trace.write",
            Permission::QualityManage => "quality.manage",
            Permission::FederationRead => "federation.read",
            Permission::FederationManage => "federation.manage",
            Permission::JobRead => "job.read",
            Permission::StatisticsRead => "statistics.read",
            Permission::IndustryManage => "industry.manage",
            Permission::IndustryReview => "industry.review",
            Permission::IndustryReport => "industry.report",
            Permission::AccessReview => "access.review",
            Permission::AccessFile => "access.file",
            Permission::MonitoringRead => "monitoring.read",
            Permission::MonitoringManage => "monitoring.manage",
            Permission::EvaluationRead => "evaluation.read",
            Permission::EvaluationManage => "evaluation.manage",
        }
    }

    /// The Chinese label shown in the console.
    pub fn label_zh(self) -> &'static str {
        match self {
            Permission::TenantRead => "查看租户",
            Permission::TenantWrite => "管理租户",
            Permission::UserRead => "查看用户",
            Permission::UserWrite => "管理用户账号（含重置密码）",
            Permission::UserSecurity => "解锁账号、设置数据范围",
            Permission::RoleRead => "查看角色",
            Permission::RoleWrite => "管理角色",
            Permission::RoleAssign => "分配角色",
            Permission::ApiKeyRead => "查看接口密钥",
            Permission::ApiKeyWrite => "管理接口密钥",
            Permission::AuditRead => "查看审计日志",
            Permission::AuditVerify => "校验审计链",
            Permission::RegistryRead => "检索主体与产品",
            Permission::RegistryWrite => "登记主体与产品",
            Permission::RegistryReview => "审核注册与变更",
            Permission::CatalogueWrite => "维护本级产品目录",
            Permission::TraceRead => "查询追溯信息与报送记录",
            Permission::TraceWrite => "报送追溯信息",
            Permission::QualityManage => "管理数据质量（接入策略、异常规则与审核）",
            Permission::FederationRead => "查看上下级联邦、上报批次与汇总指标",
            Permission::FederationManage => "执行上报、登记下级节点、管理节点证书",
            Permission::JobRead => "查看后台任务的计划与运行情况",
            Permission::StatisticsRead => "查看辖区统计数据与下级汇总的登记信息",
            Permission::IndustryManage => "管理行业统计（报表制度、三新分类、报送单位、期别）",
            Permission::IndustryReview => "审核行业统计报表",
            Permission::IndustryReport => "填报本单位的行业统计报表",
            Permission::AccessReview => "审核平台接入申请、查看对接监控",
            Permission::AccessFile => "办理接入备案（创建租户并签发凭据）、暂停或撤销接入",
            Permission::MonitoringRead => "查看主体运行监测指标与预警",
            Permission::MonitoringManage => "设置运行监测预警阈值",
            Permission::EvaluationRead => "查看监测评价结果",
            Permission::EvaluationManage => "制定监测评价指标、开展评价",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// A built-in root role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinRole {
    /// Stable code.
    pub code: &'static str,
    /// Chinese name.
    pub name: &'static str,
    /// Whether this is one of the three separated administrator roles.
    pub separated_admin: bool,
    /// Its permissions.
    pub permissions: &'static [Permission],
}

/// 系统管理员.
pub const SYSTEM_ADMIN: &str = "sysadmin";
/// 安全管理员.
pub const SECURITY_ADMIN: &str = "secadmin";
/// 审计管理员.
pub const AUDIT_ADMIN: &str = "auditadmin";
/// 业务人员: the root of roles for government staff.
pub const STAFF: &str = "staff";
/// 接入方: the root of roles for tenants' machine clients and tenant users.
pub const TENANT_CLIENT: &str = "tenant_client";
/// 数据使用方: the root of roles for a tenant's machines and people that read the
/// jurisdiction's statistics within the tenant's region (a department's or an upper tier's
/// analysis system); they report nothing.
pub const DATA_READER: &str = "data_reader";

/// Whether a role whose lineage starts at `root` may be held by a caller bound to a tenant
/// (an API key, a tenant's user).
pub fn tenant_bound(root: &str) -> bool {
    root == TENANT_CLIENT || root == DATA_READER
}

/// The built-in roles, each the root of a lineage.
pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        code: SYSTEM_ADMIN,
        name: "系统管理员",
        separated_admin: true,
        permissions: &[
            Permission::TenantRead,
            Permission::TenantWrite,
            Permission::UserRead,
            Permission::UserWrite,
            Permission::RoleRead,
            Permission::ApiKeyRead,
            Permission::ApiKeyWrite,
            Permission::FederationRead,
            Permission::FederationManage,
            Permission::JobRead,
            Permission::AccessFile,
        ],
    },
    BuiltinRole {
        code: SECURITY_ADMIN,
        name: "安全管理员",
        separated_admin: true,
        permissions: &[
            Permission::TenantRead,
            Permission::UserRead,
            Permission::UserSecurity,
            Permission::RoleRead,
            Permission::RoleWrite,
            Permission::RoleAssign,
        ],
    },
    BuiltinRole {
        code: AUDIT_ADMIN,
        name: "审计管理员",
        separated_admin: true,
        permissions: &[Permission::AuditRead, Permission::AuditVerify],
    },
    BuiltinRole {
        code: STAFF,
        name: "业务人员",
        separated_admin: false,
        permissions: &[
            Permission::TenantRead,
            Permission::RegistryRead,
            Permission::RegistryWrite,
            Permission::RegistryReview,
            Permission::CatalogueWrite,
            Permission::TraceRead,
            Permission::TraceWrite,
            Permission::QualityManage,
            Permission::FederationRead,
            Permission::StatisticsRead,
            Permission::IndustryManage,
            Permission::IndustryReview,
            Permission::AccessReview,
            Permission::MonitoringRead,
            Permission::MonitoringManage,
            Permission::EvaluationRead,
            Permission::EvaluationManage,
        ],
    },
    BuiltinRole {
        code: TENANT_CLIENT,
        name: "接入方",
        separated_admin: false,
        // A tenant's own people and machines see their own tenant, its keys and its own
        // registrations, nothing more.
        permissions: &[
            Permission::TenantRead,
            Permission::ApiKeyRead,
            Permission::RegistryRead,
            Permission::RegistryWrite,
            Permission::TraceRead,
            Permission::TraceWrite,
            Permission::IndustryReport,
            Permission::MonitoringRead,
            Permission::EvaluationRead,
        ],
    },
    BuiltinRole {
        code: DATA_READER,
        name: "数据使用方",
        separated_admin: false,
        permissions: &[Permission::TenantRead, Permission::StatisticsRead],
    },
];

/// The built-in role with `code`.
pub fn builtin(code: &str) -> Option<&'static BuiltinRole> {
    BUILTIN_ROLES.iter().find(|r| r.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for p in Permission::ALL {
            assert_eq!(Permission::from_code(p.code()), Some(p));
            let json = serde_json::to_string(&p).expect("json");
            assert_eq!(json, format!("\"{}\"", p.code()));
        }
        assert_eq!(Permission::from_code("tenant.delete"), None);
    }

    #[test]
    fn separated_admins_share_no_duty_that_breaks_separation() {
        let sys = builtin(SYSTEM_ADMIN).expect("sys");
        let sec = builtin(SECURITY_ADMIN).expect("sec");
        let aud = builtin(AUDIT_ADMIN).expect("aud");
        // Only the security administrator grants; only the audit administrator audits.
        assert!(!sys.permissions.contains(&Permission::RoleAssign));
        assert!(!sys.permissions.contains(&Permission::AuditRead));
        assert!(!sec.permissions.contains(&Permission::AuditRead));
        assert!(!sec.permissions.contains(&Permission::UserWrite));
        assert!(aud.permissions.iter().all(|p| p.code().starts_with("audit.")));
    }
}
