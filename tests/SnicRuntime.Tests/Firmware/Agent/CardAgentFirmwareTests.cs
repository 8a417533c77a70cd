using SnicRuntime.Contracts.Images;
using SnicRuntime.Firmware.Card;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using SnicRuntime.Firmware.Agent;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Update;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal.Board;
using SnicRuntime.Tests.Firmware.Update;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Agent;

/// <summary>The agent's firmware endpoints in-process: install into the inactive slot, refusals leave the slots alone.</summary>
public sealed class CardAgentFirmwareTests : IAsyncLifetime
{
    private const string Token = "0123456789abcdef-firmware-token";
    private readonly ImageFixture _f = new();
    private Dataplane _dp = null!;
    private SlotStore _slots = null!;

    public Task InitializeAsync()
    {
        BoardDefinition board = ImageFixture.Board();
        _dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = new PolicyStore(board.Ports.Count), FlowsPerWorker = 1024 });
        _slots = new SlotStore(_f.Path("slots"), null);
        Directory.CreateDirectory(_slots.Directory);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _dp.Dispose();
        _f.Dispose();
        return Task.CompletedTask;
    }

    private async Task<(CardAgent Agent, HttpClient Http)> Start(bool trusted)
    {
        var updates = new FirmwareUpdates(_slots, SlotStore.Factory, trusted ? [_f.Key] : [], _dp.Board);
        CardAgent agent = await CardAgent.StartAsync(_dp, new PolicyStore(2), Token, new IPEndPoint(IPAddress.Loopback, 0), firmware: updates);
        var http = new HttpClient { BaseAddress = agent.Address };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return (agent, http);
    }

    private static async Task<(HttpStatusCode, JsonElement)> Put(HttpClient http, string image)
    {
        using var content = new StreamContent(File.OpenRead(image));
        using HttpResponseMessage r = await http.PutAsync("/v1/firmware/image", content);
        return (r.StatusCode, JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement);
    }

    [Fact]
    public async Task A_good_image_goes_to_the_inactive_slot_and_bad_ones_change_nothing()
    {
        (CardAgent agent, HttpClient http) = await Start(trusted: true);
        await using (agent)
        using (http)
        {
            (HttpStatusCode status, JsonElement body) = await Put(http, _f.Pack("good", "#!/bin/sh\n", "4.0.0"));
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("a", body.GetProperty("slot").GetString());
            Assert.Equal("a", _slots.State().Trial);

            string bad = _f.Pack("bad", "#!/bin/sh\nexit 0\n", "5.0.0");
            _f.Corrupt(bad, ImageLayout.DefaultConfig);
            (status, body) = await Put(http, bad);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Contains("config/default.json: SHA-256", body.GetProperty("errors")[0].GetProperty("reason").GetString());
            Assert.Equal("4.0.0", _slots.Manifest("a")!.Version); // untouched
            Assert.False(Directory.Exists(Path.Combine(_slots.Directory, "b")));
            Assert.False(File.Exists(_slots.IncomingPath));

            JsonElement status2 = JsonDocument.Parse(await http.GetStringAsync("/v1/firmware")).RootElement;
            Assert.Equal(JsonValueKind.Null, status2.GetProperty("refusal").ValueKind);
            Assert.Equal("a", status2.GetProperty("trial").GetString());
            Assert.Equal(ImageKeys.KeyId(_f.Key), status2.GetProperty("trusted_keys")[0].GetString());
        }
    }

    [Fact]
    public async Task A_card_that_trusts_no_key_refuses_images()
    {
        (CardAgent agent, HttpClient http) = await Start(trusted: false);
        await using (agent)
        using (http)
        {
            (HttpStatusCode status, JsonElement body) = await Put(http, _f.Pack("good", "#!/bin/sh\n"));
            Assert.Equal(HttpStatusCode.Conflict, status);
            Assert.Contains("trusts no image-signing key", body.GetProperty("error").GetString());
            Assert.Null(_slots.State().Trial);
        }
    }
}
