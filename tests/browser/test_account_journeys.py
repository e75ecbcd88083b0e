"""In Chromium: sign up and verify the email with the code from the (sandbox) mailbox; create an
organization, invite a second person who accepts, switch to it, see its trial quotas, and change a
member's role."""
PASSWORD = "correct horse battery staple"


def test_sign_up_and_verify_the_email(person, mailbox):
    me = person()
    me.sign_up("wangwu", "wangwu@example.com", PASSWORD)
    page = me.page
    page.wait_for_url("**/user/emails**")
    page.fill("input[name=code]", mailbox.last_code("wangwu@example.com"))
    me.submit("button:has-text('验证')")
    assert "已验证" in page.locator("main table").inner_text()
    me.snapshot("user-emails")
    page.goto("/user/profile")
    assert "wangwu" in page.locator("main").inner_text()
    me.snapshot("user-profile")


def test_organization_invite_accept_switch_and_roles(person, users):
    users.create("owner1", password=PASSWORD)
    users.create("member1", password=PASSWORD)
    owner, member = person(), person()
    owner.sign_in("owner1", PASSWORD)
    member.sign_in("member1", PASSWORD)

    page = owner.page
    page.goto("/orgs/new")
    page.fill("input[name=slug]", "acme")
    page.fill("input[name=name]", "Acme 云")
    page.click("main form [type=submit]")
    page.wait_for_url("**/orgs/acme/**")
    page.fill("input[name=login]", "member1")
    owner.submit("button:has-text('邀请')")

    member.page.goto("/orgs/invitations")
    member.submit("button:has-text('接受')")
    member.page.locator("#current-account").click()
    member.submit("button[name=account_id]:has-text('acme')")
    member.page.goto("/account/info")
    info = member.page.locator("main").inner_text()
    assert "组织账户" in info and "acme" in info
    assert "项目" in info and "容器实例" in info and "服务实例" in info
    member.snapshot("org-account-info")

    page.goto("/orgs/acme/members")
    row = page.locator("tr", has_text="member1")
    row.locator("select[name=role]").select_option("admin")
    with page.expect_navigation():
        row.locator("button:has-text('更改')").click()
    assert "管理员" in page.locator("tr", has_text="member1").inner_text()
    owner.snapshot("org-members")


def test_bind_a_phone_change_the_password_and_reset_it(person, users, mailbox):
    users.create("zhaoliu", password=PASSWORD)
    me = person()
    me.sign_in("zhaoliu", PASSWORD)
    page = me.page

    # 手机: the "send code" button posts in the background (users.js) and says so on the page.
    page.goto("/user/phone")
    page.fill("input[name=phone]", "13800138123")
    page.click("button[data-portal-send]")
    page.locator(".portal-send-feedback.text-success").wait_for()
    page.fill("input[name=code]", mailbox.last_code("+8613800138123"))
    me.submit("main form button.btn-primary[value=confirm]")
    assert "138****8123" in page.locator("main").inner_text()
    me.snapshot("user-phone")

    # 修改密码: old + new password + a code to the primary email; what was typed survives the send.
    page.goto("/user/password")
    page.fill("input[name=old_password]", PASSWORD)
    page.fill("input[name=new_password]", "a brand new passphrase")
    page.check("input[name=channel][value=email]")
    page.click("button[data-portal-send]")
    page.locator(".portal-send-feedback.text-success").wait_for()
    assert page.input_value("input[name=new_password]") == "a brand new passphrase"
    page.fill("input[name=code]", mailbox.last_code("zhaoliu@example.com"))
    me.submit("main form button.btn-primary[value=confirm]")
    assert "密码已修改，其他设备已退出登录。" in page.locator(".alert").first.inner_text()



def test_forgot_password_resets_it_by_a_code(person, users, mailbox):
    users.create("sunqi", password=PASSWORD)
    me = person()
    page = me.page
    page.goto("/auth/forgot-password")
    page.fill("input[name=contact]", "sunqi@example.com")
    page.click("main form [type=submit]")
    page.wait_for_url("**/auth/reset-password**")
    page.fill("input[name=code]", mailbox.last_code("sunqi@example.com"))
    page.fill("input[name=password]", "yet another passphrase")
    page.fill("input[name=confirm]", "yet another passphrase")
    page.click("main form [type=submit]")
    page.wait_for_url("**/auth/sign-in**")
    me.sign_in("sunqi", "yet another passphrase")
