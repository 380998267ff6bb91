import json, os, re, unicodedata, sys
sys.path.insert(0,os.path.dirname(os.path.abspath(__file__)))
from emb import embed, cos

FILLER_PATTERNS = [
    r"\b(hey|hi|hello)\b,?", r"\bplease\b", r"\bpls\b", r"\bthanks?( you)?\b!?", r"\bthank you\b",
    r"\b(can|could|would|will) you( please)?( (make|create|generate|draw|render|show|give|paint|design))?( me)?( a)?\b",
    r"\bi'?d like( to see)?\b", r"\bi would like( to see)?\b", r"\bi want( to see)?\b", r"\bi need\b",
    r"^\s*(generate|create|make|draw|render|produce|show|give)( me)?( an?)?( (image|picture|pic))?( of| showing| depicting)?\b(?=.)",
    r"\b(an?|the) (image|picture|pic)( (of|showing|depicting|that shows|with))?\b", r"\b(image|picture|pic) (of|showing|depicting)\b",
]
STOP = set("a an the of in on at to and or with by for from is are be being been it its this that these those there here some any as into onto upon very just so such who which where while than then their his her them they he she we our your my me i its' s".split())
NEGATORS = {"no","not","without","none","never","nothing","zero"}
NUMBERS = {"one":1,"single":1,"lone":1,"solitary":1,"two":2,"pair":2,"couple":2,"three":3,"four":4,"five":5,"six":6,"seven":7,"eight":8,"nine":9,"ten":10,"eleven":11,"twelve":12,"dozen":12,"twenty":20,"hundred":100,"thousand":1000,"forty":40,"thirty":30,"fifty":50,"forties":40,"thirties":30}
SPELL = {"colour":"color","colours":"colors","coloured":"colored","grey":"gray","harbour":"harbor","centre":"center","theatre":"theater","cosy":"cozy","jewellery":"jewelry","aeroplane":"airplane","labelled":"labeled","armour":"armor","favourite":"favorite","neighbour":"neighbor","storey":"story","grey-bearded":"gray-bearded","moustache":"mustache","tyre":"tire","kerb":"curb","lorry":"truck","aubergine":"eggplant","courgette":"zucchini","autumn":"fall","flat":"apartment","pavement":"sidewalk","biscuit":"cookie","trainers":"sneakers","wellies":"rainboots","wellington":"rainboots","nappy":"diaper","sweets":"candy","chips":"fries","crisps":"chips","film":"movie","petrol":"gas","motorway":"highway","roundabout":"trafficcircle","photograph":"photo","shot":"photo","photorealistic":"photo","realistic":"photo","hyperrealistic":"photo","springtime":"spring","backdrop":"background","tired":"exhausted","symbol":"icon","store":"shop","mobile":"phone","painted":"painting","paint":"painting","drawn":"drawing","rendered":"render","rendering":"render","interior":"inside","photography":"photo","photographic":"photo","artwork":"art","kid":"child","kids":"child","toddler":"child","feline":"cat","spacecraft":"spaceship","vessel":"ship","enormous":"huge","colossal":"huge","giant":"huge","gigantic":"huge","massive":"huge","large":"big","little":"small","elderly":"old","aged":"old","lady":"woman","gentleman":"man","sleeping":"asleep","napping":"asleep","dozing":"asleep","hearth":"fireplace","derelict":"abandoned","robotic":"robot","couch":"sofa","ledge":"sill","windowsill":"sill","forties":"40s","aerial":"overhead","top-down":"overhead","birdseye":"overhead","contemporary":"modern","home":"house","lit":"light","sunlight":"sun","sunlit":"sun","sunny":"sun","snowy":"snow","snow-covered":"snow","stormy":"storm","rainy":"rain","misty":"mist","foggy":"fog","cafe":"coffeeshop","café":"coffeeshop","atop":"on","seaside":"sea","ocean":"sea","seas":"sea","sunrise":"sunrise","labelled":"labeled","steaming":"steam","wooden":"wood","stacked":"stack","piled":"stack","pile":"stack","solitary":"lone","single":"lone","howls":"howl","howling":"howl"}
MULTI = {"on top of":"on","perched":"sitting","perch":"sit","sits":"sitting","venetian":"venice","e-commerce":"online shop","online store":"online shop","toddler":"small child","mobile phone":"phone","bird's-eye":"overhead","bird's eye":"overhead","birds eye":"overhead","top down":"overhead","traffic circle":"trafficcircle","coffee shop":"coffeeshop","rain boots":"rainboots","fall leaves":"fall leaves","chess board":"chessboard","mid game":"midgame","mid-game":"midgame","window ledge":"sill","window sill":"sill","close up":"closeup","close-up":"closeup","worm's-eye":"wormseye"}
COLOURS = set("red orange yellow green blue purple violet pink brown black white gray grey silver gold golden teal cyan magenta turquoise beige maroon navy crimson scarlet amber mustard lavender blonde blond ivory lilac indigo olive".split())
STYLES = set("watercolor oil painting sketch charcoal pencil photo photorealistic 3d render pixel anime cartoon vector isometric illustration drawing crayon ink lowpoly low-poly claymation comic manga cinematic minimalist flat realistic hyperrealistic impressionist cubist surreal abstract".split())
MATERIALS = set("wood metal steel iron glass ceramic marble bronze stone brick concrete leather canvas plastic paper cardboard gold silver copper clay sugar chocolate ice cork bamboo fabric wool cotton velvet".split())
TIMES = set("morning noon afternoon evening night dusk dawn sunrise sunset midnight twilight spring summer fall winter rain snow storm fog mist sun cloudy overcast".split())
SIZES_SMALL = set("small tiny miniature mini petite".split()); SIZES_BIG = set("big huge lifesize life-size".split())
ERAS = set("medieval victorian futuristic retro vintage ancient prehistoric cyberpunk steampunk modern present-day contemporary".split())
ANTONYMS = [("left","right"),("above","below"),("over","under"),("top","bottom"),("inside","outside"),("front","behind"),("front","back"),("day","night"),("closeup","wide"),("with","without")]

def quoted(t):
    return sorted(m.lower() for m in re.findall(r"(?:^|[\s:(])['\"]([^'\"]+)['\"]", t))
def params(t):
    d={}
    for k,v in re.findall(r"--(\w+)(?:\s+([^\s-][^\s]*))?", t): d[k]=v
    return d
LIGHT=set("wearing wear covered cover surrounded surround enclosed enclose let have has having like made make was were looks look show shows showing beside top down above below mid air era shot view style design version showing featuring depicting around inside beside near by through across along against behind lot type like look looks made was do does how that its high far away some set kind sort background backdrop scene seen".split())
def stem(w):
    if len(w)>5 and w.endswith("ing"):
        w=w[:-3]
        if len(w)>2 and w[-1]==w[-2] and w[-1] not in "ls": w=w[:-1]
    elif len(w)>4 and w.endswith("ed"):
        w=w[:-2]
        if len(w)>2 and w[-1]==w[-2] and w[-1] not in "ls": w=w[:-1]
    if len(w)>3 and w.endswith("e"): w=w[:-1]
    return w
def lemma(w):
    if w in SPELL: w=SPELL[w]
    if len(w)>4 and w.endswith("ies"): w=w[:-3]+"y"
    elif len(w)>4 and re.search(r"(ss|x|ch|sh)es$",w): w=w[:-2]
    elif len(w)>3 and w.endswith("s") and not w.endswith("ss") and not w.endswith("us"): w=w[:-1]
    w=SPELL.get(w,w)
    return w
def stemmed(ws): return [w if w in KEEP else SPELL.get(stem(w),stem(w)) for w in ws]
def normalize(t):
    t=unicodedata.normalize("NFKC",t).lower().replace("’","'").replace("“",'"').replace("”",'"')
    t=re.sub(r"--\w+(\s+[^\s-][^\s]*)?"," ",t)
    t=re.sub(r"(?:^|[\s:(])['\"]([^'\"]+)['\"]"," QUOTE ",t)
    for p in FILLER_PATTERNS: t=re.sub(p," ",t)
    for k,v in MULTI.items(): t=t.replace(k,v)
    return t
def words(t):
    ws=re.findall(r"[a-z0-9]+(?:'[a-z]+)?",t.replace("-"," "))
    return [w for w in ws]
def content(t):
    out=[]
    for w in words(normalize(t)):
        if w in STOP or w=="quote": continue
        out.append(lemma(w))
    return out
def numbers(ws):
    n=[]
    for w in ws:
        if w in NUMBERS: n.append(NUMBERS[w])
        elif re.fullmatch(r"\d+(s|th|st|nd|rd|mm|k)?",w): n.append(w)
    return sorted(map(str,n))
def cat(ws,s): return sorted(set(w for w in ws if w in s))
def negated(t):
    ws=[lemma(w) for w in words(normalize(t))]
    out=set()
    for i,w in enumerate(ws):
        if w in NEGATORS:
            for x in ws[i+1:i+3]:
                if x not in STOP: out.add(x); break
    return out
def bindings(ws, keyset):
    # keyword -> next content word
    b={}
    for i,w in enumerate(ws):
        if w in keyset and i+1<len(ws) and ws[i+1] not in keyset: b.setdefault(ws[i+1],set()).add(w)
    return b
def role_swap(a,b):
    # verb-ish (ending ing) with prev/next content words swapped
    for i,w in enumerate(a):
        if w.endswith("ing") and 0<i<len(a)-1:
            for j,x in enumerate(b):
                if x==w and 0<j<len(b)-1 and a[i-1]==b[j+1] and a[i+1]==b[j-1] and a[i-1]!=a[i+1]: return True
    return False
def spatial_swap(a,b):
    for l,r in ANTONYMS:
        # noun preceding l in a vs noun preceding r in b
        def prevmap(ws,k):
            return {ws[i-1] for i,w in enumerate(ws) if w==k and i>0}
        if (prevmap(a,l)&prevmap(b,r)) or (prevmap(a,r)&prevmap(b,l)): return True
    return False

KEEP=COLOURS|STYLES|MATERIALS|TIMES|ERAS|SIZES_SMALL|SIZES_BIG|set(NUMBERS)|NEGATORS|{x for p in ANTONYMS for x in p}
WORDSIM=float(sys.argv[2]) if len(sys.argv)>2 else 0.8
def aligned(a,b,la,lb):
    sb=set(b)|set(lb); missing=[l for w,l in zip(a,la) if w not in sb and l not in sb]
    if not missing: return True,[]
    bad=[]
    cands=[w for w in set(lb)]
    ea=embed(missing); eb=embed(cands)
    for w,e in zip(missing,ea):
        if w in LIGHT or stem(w) in LIGHT: continue
        # compound: w is concatenation of two adjacent b words
        if any(w==b[i]+b[i+1] for i in range(len(b)-1)): continue
        best=max((cos(e,x) for x in eb),default=0)
        if best<WORDSIM: bad.append((w,round(best,2)))
    return not bad, bad

def decide(a,b,threshold):
    if quoted(a)!=quoted(b): return False,"text"
    if params(a)!=params(b): return False,"params"
    ca,cb=content(a),content(b)
    if numbers(ca)!=numbers(cb): return False,"numbers"
    if negated(a)!=negated(b): return False,"negation"
    for name,s in [("colour",COLOURS),("style",STYLES),("material",MATERIALS),("time",TIMES),("era",ERAS)]:
        if cat(ca,s)!=cat(cb,s): return False,name
    if bool(set(ca)&SIZES_SMALL)!=bool(set(cb)&SIZES_SMALL) or bool(set(ca)&SIZES_BIG)!=bool(set(cb)&SIZES_BIG): return False,"size"
    for l,r in ANTONYMS:
        if (l in ca and l not in cb and r in cb and r not in ca) or (r in ca and r not in cb and l in cb and l not in ca): return False,"antonym"
    ba,bb=bindings(ca,COLOURS),bindings(cb,COLOURS)
    for n in set(ba)&set(bb):
        if ba[n]!=bb[n]: return False,"colour-binding"
    if role_swap(ca,cb): return False,"role"
    if spatial_swap(ca,cb): return False,"spatial"
    sa,sb=stemmed(ca),stemmed(cb)
    ok1,bad1=aligned(sa,sb,ca,cb); ok2,bad2=aligned(sb,sa,cb,ca)
    if not (ok1 and ok2): return False,"align %s %s"%(bad1,bad2)
    na,nb=" ".join(ca)," ".join(cb)
    s=cos(*embed([na,nb]))
    if s<threshold: return False,"cos %.3f"%s
    return True,"cos %.3f"%s

if __name__=="__main__":
    t=float(sys.argv[1]) if len(sys.argv)>1 else 0.8
    pairs=[json.loads(l) for l in open(sys.argv[3] if len(sys.argv)>3 else os.path.join(os.path.dirname(os.path.abspath(__file__)),'..','..','..','shared','cache-pairs','public.jsonl'))]
    hits=fh=0; miss=[]
    for p in pairs:
        ok,why=decide(p['a'],p['b'],t)
        if ok and p['same']: hits+=1
        if ok and not p['same']: fh+=1; print("FALSE HIT",p['kind'],p['a'],'||',p['b'],why)
        if not ok and p['same']: miss.append((p['kind'],why,p['a'],p['b']))
    print("recall %d/84 false %d/83"%(hits,fh))
    for m in miss: print("MISS",m[0],m[1],"|",m[2],"||",m[3])
