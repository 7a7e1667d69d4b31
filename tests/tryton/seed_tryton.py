"""Seed a fresh Tryton database with a small professional-services firm (run as a script).

Usage: ``python seed_tryton.py <trytond.conf> <database>``. It runs in its own process (never
inside pytest) because it loads trytond in process through ``proteus``, Tryton's own scripting
client, which calls the same model methods and buttons as the JSON-RPC API does.

History needs past timestamps: Tryton stamps ``create_date``, ``write_date`` and the audit log
(``ir.model.log``) with the server's clock, and ``ir.date.today`` with the same clock. So each
step first sets a scenario clock (``at(...)``) that the SQLite backend's ``NOW()`` and
``ir.date`` read; everything else is Tryton's own code. The clock is naive UTC, as Tryton's.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import types
from decimal import Decimal

CLOCK = [_dt.datetime(2026, 5, 4, 8, 0)]


class _ScenarioDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz: _dt.tzinfo | None = None) -> _ScenarioDatetime:  # type: ignore[override]
        now = CLOCK[0]
        if tz is not None:
            now = now.replace(tzinfo=_dt.UTC).astimezone(tz)
        return cls.fromisoformat(now.isoformat())

    @classmethod
    def today(cls) -> _ScenarioDatetime:  # type: ignore[override]
        return cls.now()


def _install_clock() -> None:
    import trytond.backend.sqlite.database as sqlite_database
    import trytond.ir.date as ir_date

    shim = types.ModuleType("datetime")
    shim.__dict__.update(_dt.__dict__)
    shim.datetime = _ScenarioDatetime  # type: ignore[attr-defined]
    sqlite_database.dt = shim  # type: ignore[attr-defined]
    ir_date.datetime = shim  # type: ignore[attr-defined]


def at(text: str) -> None:
    """Set the scenario clock (UTC) for the next steps."""
    CLOCK[0] = _dt.datetime.fromisoformat(text)


def day(text: str) -> _dt.date:
    return _dt.date.fromisoformat(text)


def main(config_file: str, database: str) -> None:
    from proteus import config as proteus_config

    proteus_config.set_trytond(database, config_file=config_file)
    _install_clock()

    from proteus import Model, Wizard
    from trytond.modules.account.tests.tools import create_chart, create_fiscalyear, get_accounts
    from trytond.modules.account_invoice.tests.tools import (
        create_payment_term,
        set_fiscalyear_invoice_sequences,
    )
    from trytond.modules.company.tests.tools import create_company, get_company

    Party = Model.get("party.party")
    at("2026-05-04 08:00")
    owner = Party(name="Throughline Tryton Inc.")
    owner.save()
    create_company(party=owner)
    company = get_company()
    create_chart(company)
    fiscalyear = set_fiscalyear_invoice_sequences(
        create_fiscalyear(company, today=(day("2026-01-01"), day("2026-12-31")))
    )
    fiscalyear.click("create_period")
    accounts = get_accounts(company)

    Journal = Model.get("account.journal")
    PaymentMethod = Model.get("account.invoice.payment.method")
    (cash_journal,) = Journal.find([("type", "=", "cash")])
    bank = PaymentMethod(name="Bank transfer", journal=cash_journal)
    bank.credit_account = bank.debit_account = accounts["cash"]
    bank.save()
    term = create_payment_term()
    term.save()

    Employee = Model.get("company.employee")
    staff = []
    for name in ("Alice Analyst", "Bob Builder"):
        person = Party(name=name)
        person.save()
        employee = Employee(party=person, company=company)
        employee.save()
        staff.append(employee)
    alice, bob = staff

    Category = Model.get("product.category")
    category = Category(name="Services", accounting=True)
    category.account_revenue = accounts["revenue"]
    category.save()
    Uom = Model.get("product.uom")
    (hour,) = Uom.find([("name", "=", "Hour")])
    Template = Model.get("product.template")
    template = Template(name="Consulting hour", type="service", default_uom=hour)
    template.salable = True
    template.sale_uom = hour
    template.list_price = Decimal("150")
    template.account_category = category
    template.save()
    (consulting,) = template.products

    customers = {}
    for name in ("Acme Corp", "Globex", "Initech", "Umbrella"):
        party = Party(name=name, customer_payment_term=term)
        party.save()
        customers[name] = party

    Opportunity = Model.get("sale.opportunity")
    Sale = Model.get("sale.sale")

    def opportunity(customer: str, description: str, hours: int, when: str):
        at(when)
        opp = Opportunity(description=description)
        opp.party = customers[customer]
        opp.employee = alice
        opp.payment_term = term
        line = opp.lines.new()
        line.product = consulting
        line.quantity = hours
        line.unit = hour
        opp.amount = Decimal(150 * hours)
        opp.save()
        opp.click("opportunity")
        return opp

    def convert(opp, when: str):
        at(when)
        (sale,) = opp.click("convert")
        sale = Sale(sale.id)
        sale.invoice_method = "manual"
        sale.save()
        return sale

    def click(record, button: str, when: str) -> None:
        at(when)
        record.click(button)

    Work = Model.get("project.work")

    def project(name: str, customer: str, when: str, method: str = "timesheet", comment=None):
        at(when)
        work = Work(name=name, type="project", party=customers[customer])
        work.project_invoice_method = method
        work.product = consulting
        work.timesheet_available = True
        work.comment = comment
        task = work.children.new(name=f"{name}: delivery", type="task")
        task.product = consulting
        task.timesheet_available = True
        work.save()
        return work

    Line = Model.get("timesheet.line")

    def log_time(work, employee, hours: float, on: str, task: bool = True) -> None:
        at(f"{on} 17:00")
        target = work.children[0] if task else work
        line = Line(employee=employee, date=day(on), duration=_dt.timedelta(hours=hours))
        (line.work,) = target.timesheet_works
        line.save()

    Invoice = Model.get("account.invoice")

    def invoice(work, when: str, up_to: str | None = None):
        at(when)
        known = {i.id for i in Invoice.find([])}
        work.project_invoice_timesheet_up_to = day(up_to) if up_to else None
        work.save()
        work.click("invoice")
        (created,) = [i for i in Invoice.find([]) if i.id not in known]
        return created

    def pay(inv, when: str, amount: Decimal | None = None) -> None:
        at(when)
        wizard = Wizard("account.invoice.pay", [inv])
        if amount is not None:
            wizard.form.amount = amount
        wizard.form.payment_method = bank
        wizard.execute("choice")
        if wizard.state != "end":
            wizard.form.type = "partial"
            wizard.execute("pay")

    # Deal 1: Acme, won on a Friday afternoon, project the next Tuesday, invoiced and paid.
    o1 = opportunity("Acme Corp", "Acme ERP rollout", 40, "2026-06-01 09:00")
    s1 = convert(o1, "2026-06-02 10:00")
    click(s1, "quote", "2026-06-03 11:00")
    click(s1, "confirm", "2026-06-05 15:30")
    p1 = project("Acme rollout", "Acme Corp", "2026-06-09 14:00", comment=f"Deal {o1.number}")
    log_time(p1, alice, 6, "2026-06-10")
    log_time(p1, alice, 7, "2026-06-11")
    log_time(p1, bob, 4, "2026-06-12", task=False)
    log_time(p1, alice, 5, "2026-06-16")
    log_time(p1, bob, 8, "2026-06-22")
    i1 = invoice(p1, "2026-06-30 09:00")
    click(i1, "post", "2026-07-02 10:00")
    pay(i1, "2026-07-20 12:00")

    # Deal 2: Globex, a week across Juneteenth to get its project; invoiced up to June.
    o2 = opportunity("Globex", "Globex data platform", 60, "2026-06-08 09:30")
    s2 = convert(o2, "2026-06-10 14:00")
    click(s2, "quote", "2026-06-11 09:00")
    click(s2, "confirm", "2026-06-15 16:00")
    p2 = project("Globex platform", "Globex", "2026-06-22 09:30", comment=f"Deal {o2.number}")
    log_time(p2, bob, 8, "2026-06-23")
    log_time(p2, alice, 8, "2026-06-24")
    log_time(p2, bob, 6, "2026-06-30")
    log_time(p2, alice, 4, "2026-07-01")
    i2 = invoice(p2, "2026-07-06 09:00", up_to="2026-06-30")
    click(i2, "post", "2026-07-08 16:00")
    pay(i2, "2026-07-28 10:00", Decimal("1500.00"))
    log_time(p2, bob, 5, "2026-08-03")

    # Deal 3: Initech, won and still waiting for its project (a stuck handoff).
    o3 = opportunity("Initech", "Initech audit", 20, "2026-06-20 10:00")
    s3 = convert(o3, "2026-06-25 10:00")
    click(s3, "quote", "2026-06-26 10:00")
    click(s3, "confirm", "2026-07-01 11:00")

    # Deal 4: Acme again; its project is Acme's second one; the invoice stays a draft.
    o4 = opportunity("Acme Corp", "Acme phase 2", 30, "2026-07-15 09:00")
    s4 = convert(o4, "2026-07-20 09:00")
    click(s4, "quote", "2026-07-21 09:00")
    click(s4, "confirm", "2026-08-03 10:00")
    p3 = project("Acme phase 2", "Acme Corp", "2026-08-06 13:00", comment=f"Deal {o4.number}")
    log_time(p3, alice, 6, "2026-08-10")
    log_time(p3, bob, 7, "2026-08-20")
    invoice(p3, "2026-09-01 09:00", up_to="2026-08-31")
    log_time(p3, alice, 8, "2026-09-02")
    log_time(p3, bob, 5, "2026-10-05")
    log_time(p3, alice, 3, "2026-10-20")

    # Deal 5: Umbrella, lost (its quotation cancelled); deal 6 still open.
    o5 = opportunity("Umbrella", "Umbrella security review", 10, "2026-06-05 10:00")
    s5 = convert(o5, "2026-06-12 10:00")
    click(s5, "cancel", "2026-06-26 10:00")
    opportunity("Umbrella", "Umbrella follow-up", 15, "2026-09-10 10:00")

    # Internal project invoiced manually: its time is not billable work.
    p4 = project("Internal tooling", "Umbrella", "2026-09-14 09:00", method="manual")
    log_time(p4, alice, 4, "2026-09-15")


if __name__ == "__main__":
    os.environ.setdefault("TRYTOND_DATABASE_URI", "sqlite://")
    main(sys.argv[1], sys.argv[2])
