using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Agent;
using SnicRuntime.Firmware.Card;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal.Board;
using SnicRuntime.TestKit;
using SnicRuntime.Tests.Contracts.Plans;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Agent;

/// <summary><c>PATCH /v1/plan</c> over real HTTP: a delta against the running plan installs exactly the plan it names; anything else changes nothing and says why.</summary>
public sealed class CardAgentDeltaTests : IAsyncLifetime
{
    private const string Token = "0123456789abcdef-delta-token";
    private Dataplane _dp = null!;
    private PolicyStore _store = null!;
    private CardAgent _agent = null!;
    private HttpClient _http = null!;
    private ChangePlan _running = null!;
    private CardAgentBed _bed = null!;

    public async Task InitializeAsync()
    {
        _running = PlanDeltaTests.Ordered(PlanJson.Parse(File.ReadAllText(TestPaths.Plan("full.json")), out _)!);
        _running.Generation = 10;
        _bed = await CardAgentBed.Start(Token, store => Assert.True(store.Apply(_running).Accepted));
        (_dp, _store, _agent, _http) = (_bed.Dataplane, _bed.Store, _bed.Agent, _bed.Http);
    }

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    private async Task<(HttpStatusCode Status, JsonElement Body)> Patch(string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Patch, "/v1/plan") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using HttpResponseMessage response = await _http.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private async Task<JsonElement> Runs() => JsonDocument.Parse(await _http.GetStringAsync("/v1/plan")).RootElement.Clone();

    private ChangePlan Changed(Action<ChangePlan> change)
    {
        ChangePlan next = PlanJson.Parse(PlanJson.Write(_running), out _)!;
        change(next);
        return PlanDeltaTests.Ordered(next);
    }

    [Fact]
    public async Task A_delta_against_the_running_plan_installs_exactly_the_plan_it_names()
    {
        ChangePlan next = Changed(p => p.Enis![0].AdminState = "down");
        var (status, body) = await Patch(PlanJson.Write(PlanDelta.Between(_running, next, 11)));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("accepted").GetBoolean());
        JsonElement runs = await Runs();
        Assert.Equal(11, runs.GetProperty("generation").GetInt64());
        Assert.Equal(PlanDigest.Of(next), runs.GetProperty("digest").GetString());
        Assert.Equal(1, runs.GetProperty("deltas").GetInt64());
        Assert.False(_store.Current!.Enis.OfType<SnicRuntime.Firmware.Plans.Eni>().First(e => e.Name == next.Enis![0].Name).AdminUp);
    }

    [Fact]
    public async Task A_delta_for_another_plan_is_a_409_and_changes_nothing()
    {
        ChangePlan other = Changed(p => p.Appliance!.Vip = "172.16.99.100");
        ChangePlan next = Changed(p => p.Enis![0].AdminState = "down");
        var (status, body) = await Patch(PlanJson.Write(PlanDelta.Between(other, next, 11)));
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("send the whole plan", body.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(10, (await Runs()).GetProperty("generation").GetInt64());
    }

    [Fact]
    public async Task Bad_deltas_are_refused_naming_the_path_and_change_nothing()
    {
        string digest = PlanDigest.Of(_running);
        var (status, body) = await Patch("{\"generation\": 11, \"base_digest\": \"" + digest + "\", \"puts\": {}}");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("puts", body.GetProperty("errors")[0].ToString(), StringComparison.Ordinal);

        (status, body) = await Patch(PlanJson.Write(new PlanDelta { Generation = 11, BaseDigest = digest, Delete = ["enis/nobody"] }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("$.delete[0]", body.GetProperty("errors")[0].GetProperty("path").GetString());

        // A delta that makes an invalid plan: the validator's own path and reason, nothing installed.
        ChangePlan invalid = Changed(p => p.Enis![0].Vnet = "no-such-vnet");
        (status, body) = await Patch(PlanJson.Write(PlanDelta.Between(_running, invalid, 11)));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains(body.GetProperty("errors").EnumerateArray(), e => e.GetProperty("reason").GetString()!.Contains("no-such-vnet", StringComparison.Ordinal));
        JsonElement runs = await Runs();
        Assert.Equal(10, runs.GetProperty("generation").GetInt64());
        Assert.Equal(digest, runs.GetProperty("digest").GetString());
        Assert.Equal(0, runs.GetProperty("deltas").GetInt64());
    }
}
