import assert from "node:assert/strict";
import {
  diwali,
  easter,
  EXCHANGES,
  holidays,
  isTradingDay,
  lunarNewYear,
  midAutumn,
} from "./calendar.ts";

const date = (ms: number) => new Date(ms).toISOString().slice(0, 10);

Deno.test("the Lunar New Year falls on its real date every year from 1990 to 2030", () => {
  const known = [
    "1990-01-27",
    "1991-02-15",
    "1992-02-04",
    "1993-01-23",
    "1994-02-10",
    "1995-01-31",
    "1996-02-19",
    "1997-02-07",
    "1998-01-28",
    "1999-02-16",
    "2000-02-05",
    "2001-01-24",
    "2002-02-12",
    "2003-02-01",
    "2004-01-22",
    "2005-02-09",
    "2006-01-29",
    "2007-02-18",
    "2008-02-07",
    "2009-01-26",
    "2010-02-14",
    "2011-02-03",
    "2012-01-23",
    "2013-02-10",
    "2014-01-31",
    "2015-02-19",
    "2016-02-08",
    "2017-01-28",
    "2018-02-16",
    "2019-02-05",
    "2020-01-25",
    "2021-02-12",
    "2022-02-01",
    "2023-01-22",
    "2024-02-10",
    "2025-01-29",
    "2026-02-17",
    "2027-02-06",
    "2028-01-26",
    "2029-02-13",
    "2030-02-03",
  ];
  assert.deepEqual(known.map((d) => date(lunarNewYear(Number(d.slice(0, 4))))), known);
});

Deno.test("Mid-Autumn, Diwali and Easter fall on their real dates", () => {
  const midAutumns = [
    "2006-10-06",
    "2008-09-14",
    "2009-10-03",
    "2012-09-30",
    "2014-09-08",
    "2017-10-04",
    "2019-09-13",
    "2020-10-01",
    "2021-09-21",
    "2025-10-06",
  ];
  assert.deepEqual(midAutumns.map((d) => date(midAutumn(Number(d.slice(0, 4))))), midAutumns);
  const diwalis = [
    "2008-10-28",
    "2009-10-17",
    "2010-11-05",
    "2012-11-13",
    "2013-11-03",
    "2017-10-19",
    "2019-10-27",
    "2020-11-14",
    "2021-11-04",
    "2022-10-24",
    "2023-11-12",
    "2024-11-01",
  ];
  assert.deepEqual(diwalis.map((d) => date(diwali(Number(d.slice(0, 4))))), diwalis);
  const easters = ["2008-03-23", "2011-04-24", "2019-04-21", "2021-04-04", "2024-03-31"];
  assert.deepEqual(easters.map((d) => date(easter(Number(d.slice(0, 4))))), easters);
});

Deno.test("the NYSE closes on its 2021 and 2022 holidays, moved off weekends as it does", () => {
  assert.deepEqual([...holidays("NYSE", 2021).keys()].sort(), [
    "2021-01-01",
    "2021-01-18",
    "2021-02-15",
    "2021-04-02",
    "2021-05-31",
    "2021-07-05",
    "2021-09-06",
    "2021-11-25",
    "2021-12-24",
  ]);
  // New Year's Day 2022 was a Saturday: the NYSE did not close on Friday 2021-12-31.
  assert.deepEqual([...holidays("NYSE", 2022).keys()].sort(), [
    "2022-01-17",
    "2022-02-21",
    "2022-04-15",
    "2022-05-30",
    "2022-06-20",
    "2022-07-04",
    "2022-09-05",
    "2022-11-24",
    "2022-12-26",
  ]);
  assert.equal(holidays("NYSE", 2022).get("2022-06-20"), "Juneteenth (observed)");
  assert.ok(isTradingDay("NYSE", Date.UTC(2021, 11, 31)));
});

Deno.test("weekend holidays move by each market's rule: Toronto and Johannesburg to Monday, Frankfurt not at all", () => {
  // Christmas 2021 was a Saturday.
  assert.equal(holidays("TSX", 2021).get("2021-12-27"), "Christmas Day (observed)");
  assert.equal(holidays("TSX", 2021).get("2021-12-28"), "Boxing Day (observed)");
  assert.equal(holidays("JSE", 2021).get("2021-03-22"), "Human Rights Day (observed)");
  assert.equal(holidays("JSE", 2021).get("2021-12-27"), "Day of Goodwill (observed)");
  assert.ok(
    !holidays("JSE", 2018).has("2018-06-18"),
    "a Saturday holiday (Youth Day 2018) is not moved in Johannesburg",
  );
  assert.ok(isTradingDay("XETRA", Date.UTC(2021, 11, 27)));
  assert.ok(!isTradingDay("XETRA", Date.UTC(2021, 11, 24)));
  assert.equal(holidays("JPX", 2020).get("2020-02-24"), "Emperor's Birthday (observed)");
});

Deno.test("the lunisolar markets close for their festivals", () => {
  const closed = (
    exchange: Parameters<typeof holidays>[0],
    year: number,
  ) => [...holidays(exchange, year).keys()];
  assert.deepEqual(
    closed("SSE", 2021).filter((d) => d.startsWith("2021-02")),
    ["2021-02-11", "2021-02-12", "2021-02-15", "2021-02-16", "2021-02-17"],
  );
  assert.ok(closed("SSE", 2021).includes("2021-10-07"));
  assert.ok(closed("HKEX", 2021).includes("2021-09-22"), "the day after Mid-Autumn");
  assert.ok(closed("KRX", 2021).includes("2021-09-21"), "Chuseok");
  assert.ok(closed("TWSE", 2021).includes("2021-02-10"), "Lunar New Year's Eve week");
  assert.ok(closed("NSE", 2021).includes("2021-11-04"), "Diwali");
});

Deno.test("every exchange has a calendar; weekends never trade", () => {
  for (const exchange of EXCHANGES) {
    assert.ok(holidays(exchange, 2021).size >= 3, exchange);
    assert.equal(isTradingDay(exchange, Date.UTC(2021, 5, 5)), false, `${exchange} on a Saturday`);
    for (const holiday of holidays(exchange, 2021).keys()) {
      const day = new Date(`${holiday}T00:00:00Z`).getUTCDay();
      assert.ok(day !== 0 && day !== 6, `${exchange} lists a weekend day ${holiday}`);
    }
  }
  assert.throws(
    () => holidays("LSE" as Parameters<typeof holidays>[0], 2021),
    /Unknown exchange "LSE"/,
  );
});
