using System.Text.Json;
using System.Text.Json.Serialization;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Management.Fleet;

/// <summary>
/// Where each part of the fleet's desired state lives in the store. One key per object, so a
/// change to one ENI touches one key (and its watchers), never a whole document:
/// <code>
/// /controllers/leader           the leading controller (under its lease)
/// /controllers/members/ID       every live controller (under its lease)
/// /sets/SET                     an HA set: its two cards
/// /cards/CARD/set               the set a card belongs to (so no card is in two sets)
/// /enis/ENI                     where an ENI is placed (its set)
/// /terms/SCOPE                  which card holds an HA scope, under which term (compare-and-swap only)
/// /plan/current                 the newest validated plan's marker: generation, complete or still being written
/// /plan/objects/KIND/ID         one key per plan object (<see cref="PlanObjects"/>), so one ENI's change writes one key
/// /cards/CARD/delivery          what the card was last sent of its share, and whether it took it
/// /cards/CARD/inventory         the card itself: its agent's address and token, board, role (every controller, on any host, reaches it)
/// /journal/generations/GEN      the plan journal: one entry per published generation (who, when, digest, how much changed)
/// /journal/changes/GEN/CHUNK    what that generation's writes overwrote, so any kept generation can be rebuilt from the current plan
/// /images/BOARD/VERSION         the image catalogue: a signed image's manifest facts and where its file is
/// </code>
/// Flows are never stored.
/// </summary>
public static class FleetKeys
{
    public const string Leader = "/controllers/leader";
    public const string Members = "/controllers/members/";
    public const string Sets = "/sets/";
    public const string Enis = "/enis/";
    public const string Terms = "/terms/";
    public const string Cards = "/cards/";

    public static string Member(string id) => Members + id;

    public static string Set(string name) => Sets + name;

    public static string Eni(string name) => Enis + name;

    public static string SetOfCard(string card) => Cards + card + "/set";

    /// <summary>Everything of the desired plan: its marker and its objects, read as one snapshot.</summary>
    public const string PlanPrefix = "/plan/";

    public const string Plan = "/plan/current";

    public const string PlanObjects = "/plan/objects/";

    public static string Delivery(string card) => Cards + card + "/delivery";

    public static string Inventory(string card) => Cards + card + "/inventory";

    public static string Term(string scope) => Terms + scope;

    /// <summary>Outside <c>/plan/</c>: delivery mirrors the plan, and has no use for its history.</summary>
    public const string Journal = "/journal/generations/";

    public const string JournalChanges = "/journal/changes/";

    // Fixed width, so key order is generation order.
    public static string JournalEntry(long generation) => Journal + generation.ToString("D12", System.Globalization.CultureInfo.InvariantCulture);

    public static string JournalChunk(long generation, int chunk) =>
        JournalChanges + generation.ToString("D12", System.Globalization.CultureInfo.InvariantCulture) + "/" + chunk.ToString("D6", System.Globalization.CultureInfo.InvariantCulture);

    public const string Images = "/images/";

    public static string Image(string board, string version) => Images + Uri.EscapeDataString(board) + "/" + Uri.EscapeDataString(version);
}

/// <summary>A controller as it announces itself: who, where, since when.</summary>
public sealed record ControllerRecord(string Id, string Host, int Pid, DateTimeOffset Since);

/// <summary>An HA set: two cards that back each other up for the ENIs placed on the set.</summary>
public sealed record HaSetRecord(string Name, IReadOnlyList<string> Cards);

/// <summary>Where an ENI is placed.</summary>
public sealed record PlacementRecord(string Eni, string Set);

/// <summary>A card in the fleet's inventory: how to reach its agent (the token is its credential), its board and role.</summary>
public sealed record InventoryRecord(string Name, string Address, string Token, string? Board, string Role, DateTimeOffset Added);

/// <summary>Which card holds an HA scope and under which term; granted only by compare-and-swap.</summary>
public sealed record TermRecord(string Scope, string Active, long Term);

/// <summary>
/// A card's delivery state: the revision its share was sent as (the generation the card runs once it
/// takes it), the share's digest (so an unchanged share is not sent again), and the outcome.
/// </summary>
public sealed record DeliveryRecord(string Card, string Set, long Revision, string Sha256, string State, string Detail, DateTimeOffset At);

/// <summary>
/// The desired plan's marker. A publish too large for one transaction marks the plan "writing"
/// first and "complete" last, so no reader ever takes a half-written plan for the desired state.
/// </summary>
public sealed record PlanMarker(long? Generation, string State, int Objects, DateTimeOffset At)
{
    public const string Complete = "complete", Writing = "writing";
}

/// <summary>One generation in the plan journal: who published it, when, the digest of the text it came from, its size and how many objects it changed.</summary>
public sealed record JournalRecord(long Generation, string? Sha256, DateTimeOffset Created, string By, int Objects, int Changes);

/// <summary>
/// A plan object as it was before a generation changed it: its JSON as text (readable with
/// etcdctl), or null when the generation added it. Text, not bytes: the source-generated writer
/// writes a null byte array as "" (an empty object, not an absent one).
/// </summary>
public sealed record JournalBefore(string Id, string? Json);

/// <summary>Part of what one generation's writes overwrote (one per write batch).</summary>
public sealed record JournalChunk(long Generation, IReadOnlyList<JournalBefore> Before);

/// <summary>
/// A signed firmware image in the fleet's catalogue: what its manifest says (board, version,
/// architecture, signer, when built), the SHA-256 and size of the image file, and where that file
/// is (a path every host that flashes can read). The image itself stays out of the store.
/// </summary>
public sealed record ImageRecord(string Board, string Version, string Architecture, string RuntimeIdentifier, string Signer, string Built,
    string Sha256, long Size, string Location, DateTimeOffset Added, string By);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ControllerRecord))]
[JsonSerializable(typeof(HaSetRecord))]
[JsonSerializable(typeof(PlacementRecord))]
[JsonSerializable(typeof(TermRecord))]
[JsonSerializable(typeof(DeliveryRecord))]
[JsonSerializable(typeof(PlanMarker))]
[JsonSerializable(typeof(InventoryRecord))]
[JsonSerializable(typeof(JournalRecord))]
[JsonSerializable(typeof(JournalChunk))]
[JsonSerializable(typeof(ImageRecord))]
internal sealed partial class FleetJson : JsonSerializerContext
{
    public static byte[] Bytes<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) => JsonSerializer.SerializeToUtf8Bytes(value, info);

    /// <summary>Reads a stored record; a key someone wrote by hand in another shape is named, not a crash.</summary>
    public static T Read<T>(StoreEntry entry, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info)
    {
        try
        {
            return JsonSerializer.Deserialize(entry.Value, info) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new StoreException($"the store's key '{entry.Key}' does not hold a {typeof(T).Name.Replace("Record", "", StringComparison.Ordinal)}: {e.Message}", e);
        }
    }
}
