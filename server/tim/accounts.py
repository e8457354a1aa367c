"""TIM accounts: ``im_open_login_svc`` REST commands."""

from __future__ import annotations

from protocol.tim import rest as R
from server.core.directory import NewAccount, check_user_id
from server.core.errors import CoreError
from server.tim.context import Caller


async def account_import(c: Caller, body: R.AccountImport) -> R.Envelope:
    await c.core.directory.import_accounts(
        c.sdkappid, [NewAccount(body.UserID, body.Nick, body.FaceUrl)]
    )
    return R.Envelope()


async def multiaccount_import(
    c: Caller, body: R.MultiAccountImport
) -> R.MultiAccountImportResponse:
    good, failed = [], []
    for user_id in dict.fromkeys(body.Accounts):
        try:
            check_user_id(user_id)
            good.append(NewAccount(user_id))
        except CoreError:
            failed.append(user_id)
    if good:
        await c.core.directory.import_accounts(c.sdkappid, good)
    return R.MultiAccountImportResponse(FailAccounts=failed)
