from django.urls import path

from accounts import web

urlpatterns = [
    path("login/", web.login_view, name="login"),
    path("login/otp/", web.login_otp_view, name="login-otp"),
    path("login/enrol/", web.login_enrol_view, name="login-enrol"),
    path("logout/", web.logout_view, name="logout"),
    path("account/", web.account_view, name="account"),
    path("account/password/", web.password_change_view, name="account-password"),
    path("account/mfa/", web.mfa_view, name="account-mfa"),
    path(
        "account/sessions/<uuid:session_id>/revoke/", web.session_revoke_view, name="account-session-revoke"
    ),
    path("account/tokens/<uuid:token_id>/revoke/", web.token_revoke_view, name="account-token-revoke"),
    path("account/language/", web.language_view, name="account-language"),
]
