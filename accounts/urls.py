from django.urls import path

from accounts import apis

urlpatterns = [
    path("auth/token/", apis.TokenCreateApi.as_view(), name="auth-token"),
    path("auth/support-token/", apis.SupportTokenCreateApi.as_view(), name="auth-support-token"),
    path("auth/logout/", apis.LogoutApi.as_view(), name="auth-logout"),
    path("me/", apis.MeApi.as_view(), name="me"),
    path("me/password/", apis.PasswordChangeApi.as_view(), name="me-password"),
    path("me/access/", apis.MyAccessApi.as_view(), name="me-access"),
    path("me/tokens/", apis.MyTokensApi.as_view(), name="me-tokens"),
    path("me/tokens/<uuid:token_id>/revoke/", apis.MyTokenRevokeApi.as_view(), name="me-token-revoke"),
    path("me/mfa/totp/", apis.TotpEnrolApi.as_view(), name="me-mfa-totp"),
    path("me/mfa/totp/confirm/", apis.TotpConfirmApi.as_view(), name="me-mfa-totp-confirm"),
    path("users/", apis.UserListCreateApi.as_view(), name="users"),
    path("users/<uuid:user_id>/", apis.UserDetailApi.as_view(), name="user-detail"),
    path("users/<uuid:user_id>/deactivate/", apis.UserDeactivateApi.as_view(), name="user-deactivate"),
    path("users/<uuid:user_id>/unlock/", apis.UserUnlockApi.as_view(), name="user-unlock"),
    path("users/<uuid:user_id>/password/", apis.UserPasswordResetApi.as_view(), name="user-password-reset"),
    path("users/<uuid:user_id>/mfa/reset/", apis.UserMfaResetApi.as_view(), name="user-mfa-reset"),
    path("users/<uuid:user_id>/reactivate/", apis.UserReactivateApi.as_view(), name="user-reactivate"),
    path("users/<uuid:user_id>/keys/", apis.UserKeysApi.as_view(), name="user-keys"),
    path("keys/<uuid:key_id>/revoke/", apis.KeyRevokeApi.as_view(), name="key-revoke"),
    path("keys/<uuid:key_id>/rotate/", apis.KeyRotateApi.as_view(), name="key-rotate"),
    path("roles/", apis.RoleListCreateApi.as_view(), name="roles"),
    path("roles/<uuid:role_id>/", apis.RoleDetailApi.as_view(), name="role-detail"),
    path("permissions/", apis.PermissionCatalogueApi.as_view(), name="permissions"),
    path("support-grants/", apis.SupportGrantListCreateApi.as_view(), name="support-grants"),
    path(
        "support-grants/<uuid:grant_id>/revoke/",
        apis.SupportGrantRevokeApi.as_view(),
        name="support-grant-revoke",
    ),
]
