using SnicRuntime.Firmware.Card;
using SnicRuntime.TestKit;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using SnicRuntime.Firmware.Agent;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Board;
using SnicRuntime.Tests.Firmware.Pipeline;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Agent;

/// <summary>The card agent over real HTTP on loopback: authentication, plan apply, counters, flows, bad requests.</summary>
public sealed class CardAgentTests : IAsyncLifetime
{
    private const string Token = "0123456789abcdef-test-token";
    private Dataplane _dp = null!;
    private PolicyStore _store = null!;
    private CardAgent _agent = null!;
    private HttpClient _http = null!;
    private CardAgentBed _bed = null!;

    public async Task InitializeAsync()
    {
        _bed = await CardAgentBed.Start(Token, store => Assert.True(store.Apply(PipelineHarness.PlanText("full.json")).Accepted), flowsPerWorker: 4096, maxBodyBytes: 1 << 20);
        (_dp, _store, _agent, _http) = (_bed.Dataplane, _bed.Store, _bed.Agent, _bed.Http);
    }

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    private async Task<(HttpStatusCode Status, JsonElement Body)> Send(HttpMethod method, string path, string? body = null, string? token = Token)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        if (token != Token)
        {
            request.Headers.Authorization = token is null ? null : new AuthenticationHeaderValue("Bearer", token);
        }

        using var plain = new HttpClient { BaseAddress = _agent.Address };
        HttpClient client = token == Token ? _http : plain;
        using HttpResponseMessage response = await client.SendAsync(request);
        return (response.StatusCode, Json(await response.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task Unauthenticated_and_wrongly_authenticated_calls_are_refused_and_counted()
    {
        var none = await Send(HttpMethod.Get, "/v1/health", token: null);
        Assert.Equal(HttpStatusCode.Unauthorized, none.Status);
        Assert.Contains("missing credentials", none.Body.GetProperty("error").GetString(), StringComparison.Ordinal);
        var wrong = await Send(HttpMethod.Put, "/v1/plan", PipelineHarness.PlanText("full.json"), token: "not-the-card-token-at-all");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.Status);
        Assert.Equal(2, _agent.AuthFailures);
        Assert.Equal(1, _store.Current!.Generation); // the refused apply changed nothing

        var ok = await Send(HttpMethod.Get, "/v1/health");
        Assert.Equal(HttpStatusCode.OK, ok.Status);
        Assert.Equal(1, ok.Body.GetProperty("generation").GetInt64());
        var identity = await Send(HttpMethod.Get, "/v1/identity");
        Assert.Equal("emulated", identity.Body.GetProperty("board").GetString());
        Assert.Equal(64, identity.Body.GetProperty("image_sha256").GetString()!.Length);
    }

    [Fact]
    public async Task Plans_apply_with_every_error_listed_and_a_retry_is_harmless()
    {
        var bad = await Send(HttpMethod.Put, "/v1/plan", PlanEdit.Edit("full.json", p => { p["generation"] = 2; p["enis"]![0]!["vnet"] = "nope"; p["vnets"]![0]!["vni"] = -1; }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.Status);
        string[] paths = bad.Body.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("path").GetString()!).ToArray();
        Assert.Contains("$.enis[0].vnet", paths);
        Assert.Contains("$.vnets[0].vni", paths);

        var malformed = await Send(HttpMethod.Put, "/v1/plan", "{\"generation\": 2, \"vnets\": [ {\"name\": ");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, malformed.Status);
        Assert.StartsWith("$", malformed.Body.GetProperty("errors")[0].GetProperty("path").GetString(), StringComparison.Ordinal);

        string good = PlanEdit.Edit("full.json", p => p["generation"] = 2);
        var applied = await Send(HttpMethod.Put, "/v1/plan", good);
        Assert.Equal(HttpStatusCode.OK, applied.Status);
        Assert.Equal(2, applied.Body.GetProperty("generation").GetInt64());
        var again = await Send(HttpMethod.Put, "/v1/plan", good);
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.True(again.Body.GetProperty("unchanged").GetBoolean());
        Assert.Equal(2, (await Send(HttpMethod.Get, "/v1/plan")).Body.GetProperty("generation").GetInt64());

        // Expect: 100-continue, as a client sending a big body should: the card answers 413 before
        // the body is sent (without it the card's early answer can race the client's upload).
        using var huge = new HttpRequestMessage(HttpMethod.Put, "/v1/plan") { Content = new StringContent(new string(' ', 2 << 20)) };
        huge.Headers.ExpectContinue = true;
        using HttpResponseMessage tooLarge = await _http.SendAsync(huge);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
    }

    [Fact]
    public async Task Concurrent_applies_end_at_the_newest_generation_whole()
    {
        var tasks = Enumerable.Range(2, 12).Select(g => Send(HttpMethod.Put, "/v1/plan",
            PlanEdit.Edit("full.json", p => { p["generation"] = g; p["vnets"]![0]!["vni"] = 1000 + g; }))).ToArray();
        await Task.WhenAll(tasks);
        Assert.Equal(13, _store.Current!.Generation);
        Assert.Equal(1013u, _store.Current.VnetVnis[0]); // the tables are generation 13's, not a mix
        Assert.All(tasks, t => Assert.True(t.Result.Status is HttpStatusCode.OK or HttpStatusCode.UnprocessableEntity));
    }

    [Fact]
    public async Task Counters_and_flows_come_from_the_running_dataplane()
    {
        byte[] frame = Overlay.FromVm("10.1.2.50");
        Assert.True(_dp.Pool.TryAlloc(out PacketRef packet));
        packet.SetLength(frame.Length);
        frame.CopyTo(packet.Data);
        _dp.EmulatedPort(0).Inject([packet]);
        foreach (IWorker w in _dp.Workers)
        {
            w.PollOnce();
        }

        var counters = await Send(HttpMethod.Get, "/v1/counters");
        Assert.Equal(1, counters.Body.GetProperty("workers").EnumerateArray().Sum(w => w.GetProperty("rx_packets").GetInt64()));
        Assert.Equal(1, counters.Body.GetProperty("flows_created").GetInt64());

        var flows = await Send(HttpMethod.Get, "/v1/flows?eni=eni1&limit=10");
        JsonElement flow = Assert.Single(flows.Body.GetProperty("flows").EnumerateArray());
        Assert.Equal("10.1.2.50", flow.GetProperty("address_b").GetString());
        Assert.StartsWith("vxlan to 172.16.1.20", flow.GetProperty("action").GetString(), StringComparison.Ordinal);
        Assert.Empty((await Send(HttpMethod.Get, "/v1/flows?eni=eni2")).Body.GetProperty("flows").EnumerateArray());

        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Get, "/v1/flows?limit=0")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Get, "/v1/flows?port=x")).Status);
        var cursor = await Send(HttpMethod.Get, "/v1/flows?cursor=9.9.9");
        Assert.Equal(HttpStatusCode.BadRequest, cursor.Status);
        Assert.Contains("cursor", cursor.Body.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/v1/nope")).StatusCode);
    }

    [Fact]
    public async Task Metrics_are_served_as_prometheus_text()
    {
        HttpResponseMessage r = await _http.GetAsync("/v1/metrics");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("text/plain", r.Content.Headers.ContentType!.MediaType);
        string text = await r.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE snic_worker_rx_packets_total counter", text, StringComparison.Ordinal);
        Assert.Contains("snic_worker_rx_packets_total{worker=\"0\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE snic_flows_capacity gauge", text, StringComparison.Ordinal);
        Assert.Contains("snic_plan_generation 1", text, StringComparison.Ordinal);
        Assert.Contains("snic_eni_packets_total{eni=\"eni1\"} 0", text, StringComparison.Ordinal);
        // Every sample line is "name{labels} value" or "name value": what a Prometheus scraper parses.
        Assert.All(text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')),
            l => Assert.Matches(@"^[a-z_]+(\{[a-z_]+=""[^""]*""(,[a-z_]+=""[^""]*"")*\})? -?[0-9]+$", l));
    }
}
